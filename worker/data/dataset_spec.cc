#include "worker/data/dataset_spec.h"

#include "common/split_mix.h"
#include "worker/data/fashion_mnist.h"
#include "worker/data/image_folder_dataset.h"
#include "worker/data/in_memory_dataset.h"
#include "worker/data/prefix_dataset.h"
#include "worker/data/shards/shard_dataset.h"
#include "worker/data/synthetic_dataset.h"

namespace mw {

namespace {

void KeepPrefix(int64_t n, std::unique_ptr<Dataset>* data) {
  if (*data && n > 0 && n < (*data)->size()) {
    *data = std::make_unique<PrefixDataset>(std::move(*data), n);
  }
}

// Opens a dataset of type T through its own Open(...), as a Dataset.
template <typename T, typename... Args>
Status OpenAs(std::unique_ptr<Dataset>* out, const Args&... args) {
  std::unique_ptr<T> dataset;
  MW_RETURN_IF_ERROR(T::Open(args..., &dataset));
  *out = std::move(dataset);
  return Status::Ok();
}

}  // namespace

Status OpenDatasets(const DatasetSpec& spec, uint64_t seed, const ObjectStoreOptions& store,
                    std::unique_ptr<Dataset>* train, std::unique_ptr<Dataset>* test) {
  train->reset();
  test->reset();
  if (spec.kind == "fashion-mnist") {
    GreyImages train_images, test_images;
    MW_RETURN_IF_ERROR(LoadFashionMnist(kFashionMnistDir, Split::kTrain, &train_images));
    MW_RETURN_IF_ERROR(LoadFashionMnist(kFashionMnistDir, Split::kTest, &test_images));
    *train = std::make_unique<InMemoryDataset>(std::move(train_images), "fashion-mnist train");
    *test = std::make_unique<InMemoryDataset>(std::move(test_images), "fashion-mnist test");
  } else if (spec.kind == "image-folder") {
    MW_RETURN_IF_ERROR(OpenAs<ImageFolderDataset>(train, spec.train_dir));
    if (!spec.test_dir.empty()) MW_RETURN_IF_ERROR(OpenAs<ImageFolderDataset>(test, spec.test_dir));
  } else if (spec.kind == "shards") {
    MW_RETURN_IF_ERROR(OpenAs<ShardDataset>(train, spec.train_shards, store));
    if (!spec.test_shards.empty()) {
      MW_RETURN_IF_ERROR(OpenAs<ShardDataset>(test, spec.test_shards, store));
    }
  } else if (spec.kind == "synthetic") {
    SyntheticSpec s;
    s.size = spec.synthetic_size;
    s.image_size = spec.image_size;
    s.num_labels = spec.synthetic_labels;
    s.seed = seed;
    MW_RETURN_IF_ERROR(s.Validate());
    *train = std::make_unique<SyntheticDataset>(s);
    // Evaluation instances: the same generator and labels, other seeds.
    SyntheticSpec held_out = s;
    held_out.seed = MixSeed(seed, 0x7e57);
    held_out.size = std::min<int64_t>(10000, s.size);
    *test = std::make_unique<SyntheticDataset>(held_out);
  } else {
    return Status::InvalidArgument(
        "dataset '" + spec.kind +
        "' is not one of: fashion-mnist, image-folder, shards, synthetic");
  }
  KeepPrefix(spec.train_subset, train);
  KeepPrefix(spec.test_subset, test);
  return Status::Ok();
}

}  // namespace mw
