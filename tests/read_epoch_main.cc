// mw_read_epoch: one rank's share of an epoch of a packed dataset, read as a worker reads it
// (DistributedSampler, BatchLoader's threads, ShardDataset), for the dataset tests: writes
// "id checksum" for every sample it loaded, in order, one a line, to --out (stdout has the
// logs); the checksum is of the sample's two augmented views, the floats training gets.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "common/checksum.h"
#include "worker/data/augmentation.h"
#include "worker/data/batch_loader.h"
#include "worker/data/distributed_sampler.h"
#include "worker/data/shards/object_store_flags.h"
#include "worker/data/shards/shard_dataset.h"

int main(int argc, char** argv) {
  std::string location, out_path;
  int world_size = 1, rank = 0, threads = 4;
  int64_t local_batch = 16, epoch = 0, first_step = 0;
  CLI::App app{"one rank's share of an epoch of a packed dataset"};
  app.add_option("location", location)->required();
  app.add_option("--world-size", world_size);
  app.add_option("--rank", rank);
  app.add_option("--local-batch", local_batch);
  app.add_option("--epoch", epoch);
  app.add_option("--first-step", first_step);
  app.add_option("--threads", threads);
  app.add_option("--out", out_path)->required();
  mw::ObjectStoreFlags store;
  mw::AddObjectStoreFlags(app, &store);
  CLI11_PARSE(app, argc, argv);
  std::unique_ptr<mw::ShardDataset> data;
  mw::DistributedSampler sampler;
  mw::Status s = mw::ResolveObjectStoreFlags(&store);
  if (s.ok()) s = mw::ShardDataset::Open(location, store.options, &data);
  if (s.ok())
    s = mw::DistributedSampler::Create(data->size(), world_size, local_batch, 1, &sampler);
  if (!s.ok()) {
    std::fprintf(stderr, "mw_read_epoch: %s\n", s.ToString().c_str());
    return 1;
  }
  const mw::Augmenter augmenter(data->channels() == 1 ? mw::AugmentationSpec::FashionMnist()
                                                      : mw::AugmentationSpec::ImageNet());
  mw::BatchLoaderOptions options;
  options.threads = threads;
  mw::BatchLoader loader(*data, augmenter, 1, epoch, sampler.EpochIds(epoch, rank), local_batch,
                         first_step, options);
  std::FILE* out = std::fopen(out_path.c_str(), "w");
  if (out == nullptr) {
    std::perror(out_path.c_str());
    return 1;
  }
  while (!loader.done()) {
    mw::ViewBatch batch;
    s = loader.Next(&batch);
    if (!s.ok()) {
      std::fprintf(stderr, "mw_read_epoch: %s\n", s.ToString().c_str());
      return 1;
    }
    const size_t b = batch.ids.size();
    const size_t floats = batch.views.size() / (2 * b);
    for (size_t i = 0; i < b; ++i) {
      uint64_t sum = 0;
      for (size_t v = 0; v < 2; ++v) {
        sum ^= mw::Checksum(batch.views.data() + (v * b + i) * floats, floats * sizeof(float)) + v;
      }
      std::fprintf(out, "%lld %016llx\n", static_cast<long long>(batch.ids[i]),
                   static_cast<unsigned long long>(sum));
    }
  }
  return std::fclose(out) == 0 ? 0 : 1;
}
