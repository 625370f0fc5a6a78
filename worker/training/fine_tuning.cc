#include "worker/training/fine_tuning.h"

#include <torch/nn/functional/loss.h>
#include <torch/optim/sgd.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "common/row_partition.h"
#include "common/split_mix.h"
#include "worker/comm/tensor_buffer.h"
#include "worker/data/batch_loader.h"
#include "worker/data/distributed_sampler.h"
#include "worker/training/plain_images.h"
#include "worker/training/replica_sync.h"

namespace mw {

namespace {

// The labelled images as a dataset of their own, so the sampler and loader serve them.
class Subset : public Dataset {
 public:
  Subset(const Dataset& base, std::vector<int64_t> ids) : base_(base), ids_(std::move(ids)) {}
  int64_t size() const override { return static_cast<int64_t>(ids_.size()); }
  int channels() const override { return base_.channels(); }
  Status Image(int64_t index, cv::Mat* out) const override {
    return base_.Image(ids_[static_cast<size_t>(index)], out);
  }
  int64_t Label(int64_t index) const override {
    return base_.Label(ids_[static_cast<size_t>(index)]);
  }
  int64_t num_labels() const override { return base_.num_labels(); }
  std::string Describe() const override {
    return std::to_string(ids_.size()) + " labelled images of " + base_.Describe();
  }

 private:
  const Dataset& base_;
  std::vector<int64_t> ids_;
};

void CopyState(const torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard no_grad;
  const auto params = from.named_parameters();
  for (auto& p : to.named_parameters()) p.value().copy_(params[p.key()]);
  const auto buffers = from.named_buffers();
  for (auto& b : to.named_buffers()) b.value().copy_(buffers[b.key()]);
}

}  // namespace

std::vector<int64_t> LabelledSubset(int64_t num_images, double fraction, uint64_t seed) {
  std::vector<int64_t> ids(static_cast<size_t>(num_images));
  for (int64_t i = 0; i < num_images; ++i) ids[static_cast<size_t>(i)] = i;
  SplitMix64 rng(MixSeed(seed, 0x1abe1));
  for (int64_t i = num_images - 1; i > 0; --i) {
    std::swap(ids[static_cast<size_t>(i)], ids[rng.Below(static_cast<uint64_t>(i) + 1)]);
  }
  const auto keep =
      std::clamp<int64_t>(std::llround(fraction * static_cast<double>(num_images)), 1, num_images);
  ids.resize(static_cast<size_t>(keep));
  std::sort(ids.begin(), ids.end());
  return ids;
}

Status FineTune(const ResNet& pretrained, const ResNetSpec& spec, Communicator& comm,
                const Dataset& train, const Dataset& test, const Augmenter& augmenter,
                const FineTuneOptions& options, double* top1) {
  const Subset labelled(train, LabelledSubset(train.size(), options.label_fraction, options.seed));
  const int64_t b =
      std::max<int64_t>(1, std::min(options.local_batch, labelled.size() / comm.world_size()));
  DistributedSampler sampler;
  MW_RETURN_IF_ERROR(DistributedSampler::Create(labelled.size(), comm.world_size(), b,
                                                MixSeed(options.seed, 0xf17e), &sampler));
  ResNet backbone(spec);
  CopyState(*pretrained, *backbone);
  torch::manual_seed(options.seed);  // the same head on every rank
  torch::nn::Linear head(backbone->feature_dim(), train.num_labels());
  std::vector<at::Tensor> params = backbone->parameters();
  for (const auto& p : head->parameters()) params.push_back(p);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(backbone->parameters(),
                      std::make_unique<torch::optim::SGDOptions>(options.backbone_lr));
  groups.emplace_back(head->parameters(),
                      std::make_unique<torch::optim::SGDOptions>(options.head_lr));
  for (auto& group : groups) {
    static_cast<torch::optim::SGDOptions&>(group.options())
        .momentum(options.momentum)
        .weight_decay(options.weight_decay);
  }
  torch::optim::SGD optimizer(std::move(groups), torch::optim::SGDOptions(options.backbone_lr));
  const double total_steps = static_cast<double>(options.epochs * sampler.steps_per_epoch());
  const int64_t size = augmenter.spec().output_size;
  BatchLoaderOptions loader_options;
  loader_options.threads = options.loader_threads;
  backbone->train();
  head->train();
  for (int64_t epoch = 0; epoch < options.epochs; ++epoch) {
    BatchLoader loader(labelled, augmenter, MixSeed(options.seed, 0xf17e), epoch,
                       sampler.EpochIds(epoch, comm.rank()), b, 0, loader_options);
    while (!loader.done()) {
      ViewBatch batch;
      MW_RETURN_IF_ERROR(loader.Next(&batch));
      const at::Tensor views =
          at::from_blob(batch.views.data(), {2 * b, labelled.channels(), size, size});
      std::vector<int64_t> labels;
      for (int v = 0; v < 2; ++v) {
        for (int64_t id : batch.ids) labels.push_back(labelled.Label(id));
      }
      const at::Tensor loss = torch::nn::functional::cross_entropy(head(backbone->Features(views)),
                                                                   at::tensor(labels, at::kLong));
      optimizer.zero_grad();
      loss.backward();
      // Each rank's loss is the mean over its own samples: average the gradients.
      MW_RETURN_IF_ERROR(AllReduceTensors(comm, GradientsOf(params), 1.0 / comm.world_size()));
      const double progress =
          static_cast<double>(epoch * sampler.steps_per_epoch() + batch.step) / total_steps;
      const double decay = 0.5 * (1 + std::cos(M_PI * progress));
      auto& param_groups = optimizer.param_groups();
      static_cast<torch::optim::SGDOptions&>(param_groups[0].options())
          .lr(options.backbone_lr * decay);
      static_cast<torch::optim::SGDOptions&>(param_groups[1].options()).lr(options.head_lr * decay);
      optimizer.step();
    }
  }
  // Each rank scores a contiguous part of the test split; a sum gives the count.
  torch::NoGradGuard no_grad;
  backbone->eval();
  head->eval();
  const RowPartition partition(test.size(), comm.world_size());
  at::Tensor correct = at::zeros({1}, at::kDouble);
  constexpr int64_t kChunk = 512;
  for (int64_t i = partition.begin(comm.rank()); i < partition.end(comm.rank()); i += kChunk) {
    const int64_t n = std::min(kChunk, partition.end(comm.rank()) - i);
    at::Tensor images;
    MW_RETURN_IF_ERROR(PlainImages(test, augmenter, i, n, &images));
    std::vector<int64_t> labels;
    for (int64_t k = 0; k < n; ++k) labels.push_back(test.Label(i + k));
    correct += head(backbone->Features(images)).argmax(1).eq(at::tensor(labels, at::kLong)).sum();
  }
  MW_RETURN_IF_ERROR(comm.AllReduce(ViewOf(correct), ReduceOp::kSum));
  *top1 = correct.item<double>() / static_cast<double>(test.size());
  return Status::Ok();
}

}  // namespace mw
