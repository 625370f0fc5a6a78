#include "worker/training/trainer.h"

#include <torch/nn/module.h>
#include <torch/optim/sgd.h>
#include <torch/torch.h>

#include <cmath>
#include <opencv2/core/mat.hpp>

#include "worker/classifier/topk_refresh.h"
#include "worker/comm/tensor_buffer.h"
#include "worker/model/resnet.h"
#include "worker/training/projection_head.h"

namespace mw {

struct Trainer::Model {
  ResNet backbone{nullptr};
  ProjectionHead head{nullptr};
  std::unique_ptr<torch::optim::SGD> optimizer;

  std::vector<at::Tensor> Parameters() {
    std::vector<at::Tensor> params = backbone->parameters();
    for (const auto& p : head->parameters()) params.push_back(p);
    return params;
  }
  at::Tensor Embed(const at::Tensor& images) { return head->forward(backbone->Features(images)); }
};

namespace {

// Images [first, first + count) without augmentation, normalised: [count, 1, H, W].
at::Tensor PlainImages(const GreyImages& images, int64_t first, int64_t count,
                       const AugmentationSpec& spec) {
  const int64_t pixels = images.height * images.width;
  at::Tensor bytes = at::from_blob(const_cast<uint8_t*>(images.pixels.data()) + first * pixels,
                                   {count, 1, images.height, images.width}, at::kByte);
  return (bytes.to(at::kFloat) / 255.0 - spec.mean[0]) / spec.std[0];
}

}  // namespace

Trainer::Trainer(const TrainerConfig& config, Communicator* comm, const GreyImages* images)
    : config_(config), comm_(comm), images_(images), augmenter_(config.augmentation) {}

Trainer::~Trainer() = default;

Status Trainer::Create(const TrainerConfig& config, Communicator* comm, const GreyImages* images,
                       std::unique_ptr<Trainer>* out) {
  TrainerConfig c = config;
  c.classifier.num_classes = images->count;
  MW_RETURN_IF_ERROR(c.augmentation.Validate());
  ResNetSpec spec;
  MW_RETURN_IF_ERROR(ResNetSpec::FromName(c.backbone, &spec));
  std::unique_ptr<Trainer> trainer(new Trainer(c, comm, images));
  MW_RETURN_IF_ERROR(DistributedSampler::Create(images->count, comm->world_size(), c.local_batch,
                                                c.seed, &trainer->sampler_));
  MW_RETURN_IF_ERROR(
      Classifier::Create(ClassifierLayout::kSharded, c.classifier, comm, &trainer->classifier_));
  // Every rank starts from the same network: seeded, not broadcast.
  torch::manual_seed(c.seed);
  trainer->model_ = std::make_unique<Model>();
  trainer->model_->backbone = ResNet(spec);
  trainer->model_->head =
      ProjectionHead(trainer->model_->backbone->feature_dim(), c.hidden_dim, c.classifier.dim);
  trainer->model_->optimizer = std::make_unique<torch::optim::SGD>(
      trainer->model_->Parameters(),
      torch::optim::SGDOptions(c.lr).momentum(c.momentum).weight_decay(c.weight_decay));
  *out = std::move(trainer);
  return Status::Ok();
}

Status Trainer::InitializeFromPrior() {
  torch::NoGradGuard no_grad;
  model_->backbone->train();
  model_->head->train();
  const int64_t begin = classifier_->row_begin();
  const int64_t rows = classifier_->row_end() - begin;
  constexpr int64_t kChunk = 256;
  for (int64_t i = 0; i < rows; i += kChunk) {
    const int64_t n = std::min(kChunk, rows - i);
    const at::Tensor x = model_->Embed(PlainImages(*images_, begin + i, n, config_.augmentation));
    classifier_->weights().narrow(0, i, n).copy_(x / x.norm(2, {1}, true).clamp_min(1e-12));
  }
  return Status::Ok();
}

Status Trainer::RefreshNeighbors(int64_t epoch) {
  if (config_.classifier.smoothing == 0) return Status::Ok();
  TopKRefreshOptions options;
  options.k = config_.classifier.top_k;
  TopKTable table;
  MW_RETURN_IF_ERROR(RefreshTopK(*comm_, classifier_->weights(), images_->count, options, &table));
  std::vector<at::Tensor> loads;
  for (int q = 0; q < comm_->world_size(); ++q) {
    std::vector<int64_t> ids = sampler_.EpochIds(epoch, q);
    loads.push_back(at::tensor(ids, at::TensorOptions().dtype(at::kLong)));
  }
  const RowPartition partition(images_->count, comm_->world_size());
  return RouteRowsToLoaders(*comm_, partition, table.ids, loads, &neighbors_);
}

double Trainer::LearningRate(double base, int64_t epoch, int64_t step) const {
  const double t = static_cast<double>(epoch) +
                   static_cast<double>(step) / static_cast<double>(steps_per_epoch());
  if (t < static_cast<double>(config_.warmup_epochs)) {
    return base * (t + 1.0 / steps_per_epoch()) / config_.warmup_epochs;
  }
  const double span = static_cast<double>(config_.epochs - config_.warmup_epochs);
  const double progress = span > 0 ? (t - config_.warmup_epochs) / span : 1.0;
  return base * 0.5 * (1.0 + std::cos(M_PI * std::min(progress, 1.0)));
}

Status Trainer::AllReduceGradients() {
  std::vector<at::Tensor> grads;
  for (auto& p : model_->Parameters()) {
    if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
    grads.push_back(p.grad().view(-1));
  }
  at::Tensor flat = at::cat(grads);
  // Each rank's backward carries its own samples' share of the global mean loss: the sum
  // over ranks is the gradient.
  MW_RETURN_IF_ERROR(comm_->AllReduce(ViewOf(flat), ReduceOp::kSum));
  int64_t offset = 0;
  for (auto& g : grads) {
    g.copy_(flat.narrow(0, offset, g.numel()));
    offset += g.numel();
  }
  return Status::Ok();
}

Status Trainer::TrainEpoch(int64_t epoch, int64_t first_step, double* mean_loss) {
  model_->backbone->train();
  model_->head->train();
  const int64_t b = config_.local_batch;
  const int64_t h = images_->height, w = images_->width;
  const int64_t view_floats = h * w;
  double loss_sum = 0;
  int64_t steps = 0;
  for (int64_t step = first_step; step < steps_per_epoch(); ++step) {
    const std::vector<int64_t> ids = sampler_.Batch(epoch, step, comm_->rank());
    at::Tensor views = at::empty({2 * b, 1, h, w});
    float* out = views.data_ptr<float>();
    for (int64_t i = 0; i < b; ++i) {
      const cv::Mat image(static_cast<int>(h), static_cast<int>(w), CV_8UC1,
                          const_cast<uint8_t*>(images_->pixels.data()) + ids[i] * h * w);
      for (int64_t v = 0; v < 2; ++v) {
        SplitMix64 rng(MixSeed(config_.seed, static_cast<uint64_t>(epoch),
                               static_cast<uint64_t>(ids[i]), static_cast<uint64_t>(v)));
        augmenter_.View(image, rng, out + (v * b + i) * view_floats);
      }
    }
    const at::Tensor id_tensor = at::tensor(ids, at::TensorOptions().dtype(at::kLong));
    const at::Tensor labels = at::cat({id_tensor, id_tensor});
    at::Tensor neighbors;
    if (config_.classifier.smoothing > 0) {
      const at::Tensor rows = neighbors_.narrow(0, step * b, b);
      neighbors = at::cat({rows, rows});
    }

    const at::Tensor embeddings = model_->Embed(views);
    StepResult result;
    MW_RETURN_IF_ERROR(classifier_->Step(embeddings.detach(), labels, neighbors,
                                         LearningRate(config_.classifier_lr, epoch, step),
                                         &result));
    model_->optimizer->zero_grad();
    embeddings.backward(result.feature_grad);
    MW_RETURN_IF_ERROR(AllReduceGradients());
    for (auto& group : model_->optimizer->param_groups()) {
      static_cast<torch::optim::SGDOptions&>(group.options())
          .lr(LearningRate(config_.lr, epoch, step));
    }
    model_->optimizer->step();
    loss_sum += result.loss;
    ++steps;
  }
  *mean_loss = steps > 0 ? loss_sum / static_cast<double>(steps) : 0;
  return Status::Ok();
}

at::Tensor Trainer::Features(const GreyImages& images, int64_t count) {
  torch::NoGradGuard no_grad;
  model_->backbone->eval();
  std::vector<at::Tensor> parts;
  for (int64_t i = 0; i < count; i += 512) {
    const int64_t n = std::min<int64_t>(512, count - i);
    parts.push_back(model_->backbone->Features(PlainImages(images, i, n, config_.augmentation)));
  }
  return at::cat(parts);
}

}  // namespace mw
