#include "worker/training/trainer.h"

#include <torch/nn/module.h>
#include <torch/optim/sgd.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <opencv2/core/mat.hpp>
#include <sstream>

#include "worker/classifier/topk_refresh.h"
#include "worker/comm/staged_communicator.h"
#include "worker/comm/tensor_buffer.h"
#include "worker/comm/torch_device.h"
#include "worker/data/batch_loader.h"
#include "worker/model/autocast_scope.h"
#include "worker/model/projection_head.h"
#include "worker/model/resnet.h"
#include "worker/model/state_dict_export.h"
#include "worker/training/fine_tuning.h"
#include "worker/training/plain_images.h"
#include "worker/training/replica_sync.h"

namespace mw {

struct Trainer::Model {
  ResNetSpec spec;
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

Trainer::Trainer(const TrainerConfig& config, Communicator* comm, const Dataset* data)
    : config_(config),
      comm_(comm),
      device_(TorchDevice(config.classifier.device)),
      host_comm_(comm),
      data_(data),
      augmenter_(config.augmentation) {
  if (device_.is_cuda()) {
    staged_comm_ = std::make_unique<StagedCommunicator>(comm, device_);
    host_comm_ = staged_comm_.get();
  }
}

Trainer::~Trainer() = default;

Status Trainer::Create(const TrainerConfig& config, Communicator* comm, const Dataset* data,
                       std::unique_ptr<Trainer>* out) {
  TrainerConfig c = config;
  c.classifier.num_classes = data->size();
  c.classifier.sampling_seed = c.seed;
  MW_RETURN_IF_ERROR(c.augmentation.Validate());
  ResNetSpec spec;
  MW_RETURN_IF_ERROR(ResNetSpec::FromName(c.backbone, &spec));
  spec.in_channels = data->channels();
  std::unique_ptr<Trainer> trainer(new Trainer(c, comm, data));
  MW_RETURN_IF_ERROR(DistributedSampler::Create(data->size(), comm->world_size(), c.local_batch,
                                                c.seed, &trainer->sampler_));
  MW_RETURN_IF_ERROR(
      Classifier::Create(ClassifierLayout::kSharded, c.classifier, comm, &trainer->classifier_));
  if (c.classifier.smoothing > 0) {
    trainer->neighbor_rows_ =
        at::zeros({trainer->classifier_->weights().size(0), c.classifier.top_k}, at::kInt);
  }
  // Every rank starts from the same network: seeded, not broadcast.
  torch::manual_seed(c.seed);
  trainer->model_ = std::make_unique<Model>();
  trainer->model_->spec = spec;
  trainer->model_->backbone = ResNet(spec);
  trainer->model_->head =
      ProjectionHead(trainer->model_->backbone->feature_dim(), c.hidden_dim, c.classifier.dim);
  trainer->model_->backbone->to(trainer->device_);
  trainer->model_->head->to(trainer->device_);
  trainer->model_->optimizer = std::make_unique<torch::optim::SGD>(
      trainer->model_->Parameters(),
      torch::optim::SGDOptions(c.lr).momentum(c.momentum).weight_decay(c.weight_decay));
  *out = std::move(trainer);
  return Status::Ok();
}

Status Trainer::InitializeClassifier() {
  at::Tensor rows = classifier_->weights();
  const int64_t begin = classifier_->row_begin();
  if (config_.init == ClassifierInit::kGaussian) {
    const int64_t d = rows.size(1);
    at::Tensor host = at::empty(rows.sizes(), at::kFloat);
    float* w = host.data_ptr<float>();
    for (int64_t i = 0; i < rows.size(0); ++i) {
      SplitMix64 rng(MixSeed(config_.seed, 0x6a09e667, static_cast<uint64_t>(begin + i)));
      for (int64_t j = 0; j < d; j += 2) {  // Box-Muller: two normals per pair of uniforms
        const double radius = std::sqrt(-2.0 * std::log(1.0 - rng.Uniform(0, 1)));
        const double angle = 2.0 * M_PI * rng.Uniform(0, 1);
        w[i * d + j] = static_cast<float>(radius * std::cos(angle));
        if (j + 1 < d) w[i * d + j + 1] = static_cast<float>(radius * std::sin(angle));
      }
    }
    rows.copy_(host.div_(host.norm(2, {1}, true).clamp_min(1e-12)));
    return Status::Ok();
  }
  const bool batch_statistics = config_.init == ClassifierInit::kContrastivePrior;
  for (int64_t i = 0; i < rows.size(0); i += kPriorChunk) {
    const int64_t n = std::min(kPriorChunk, rows.size(0) - i);
    at::Tensor x;
    MW_RETURN_IF_ERROR(Embeddings(*data_, begin + i, n, batch_statistics, &x));
    rows.narrow(0, i, n).copy_(x);
  }
  return batch_statistics ? AverageBatchNormStatistics() : Status::Ok();
}

Status Trainer::Embeddings(const Dataset& data, int64_t first, int64_t count, bool batch_statistics,
                           at::Tensor* out) {
  torch::NoGradGuard no_grad;
  model_->backbone->train(batch_statistics);
  model_->head->train(batch_statistics);
  at::Tensor images;
  MW_RETURN_IF_ERROR(PlainImages(data, augmenter_, first, count, &images));
  const at::Tensor x = model_->Embed(images.to(device_));
  *out = x / x.norm(2, {1}, true).clamp_min(1e-12);
  return Status::Ok();
}

Status Trainer::FineTune(const Dataset& train, const Dataset& test, const FineTuneOptions& options,
                         double* top1) {
  return mw::FineTune(model_->backbone, model_->spec, *host_comm_, train, test, augmenter_, options,
                      top1);
}

Status Trainer::SaveModel(std::string* out) const {
  try {
    torch::serialize::OutputArchive archive;
    model_->backbone->save(archive);
    torch::serialize::OutputArchive head;
    model_->head->save(head);
    archive.write("head", head);
    torch::serialize::OutputArchive optimizer;
    model_->optimizer->save(optimizer);
    archive.write("optimizer", optimizer);
    std::ostringstream bytes;
    archive.save_to(bytes);
    *out = bytes.str();
  } catch (const c10::Error& e) {
    return Status::Internal(std::string("saving the model: ") + e.what_without_backtrace());
  }
  return Status::Ok();
}

Status Trainer::LoadModel(const std::string& bytes) {
  try {
    std::istringstream in(bytes);
    torch::serialize::InputArchive archive;
    archive.load_from(in, device_);
    model_->backbone->load(archive);
    torch::serialize::InputArchive head, optimizer;
    archive.read("head", head);
    model_->head->load(head);
    archive.read("optimizer", optimizer);
    model_->optimizer->load(optimizer);
  } catch (const c10::Error& e) {
    return Status::DataLoss(std::string("the checkpoint's model does not load: ") +
                            e.what_without_backtrace());
  }
  return Status::Ok();
}

std::string Trainer::BackboneStateDict() const { return StateDictBytes(*model_->backbone); }

at::Tensor Trainer::classifier_momentum() const { return classifier_->momentum_buffer(); }

at::Tensor Trainer::classifier_rows() const { return classifier_->weights(); }
int64_t Trainer::classifier_row_begin() const { return classifier_->row_begin(); }

Status Trainer::RefreshNeighbors(int64_t epoch) {
  if (config_.classifier.smoothing == 0) return Status::Ok();
  TopKRefreshOptions options;
  options.k = config_.classifier.top_k;
  TopKTable table;
  MW_RETURN_IF_ERROR(
      RefreshTopK(*host_comm_, classifier_->weights().cpu(), data_->size(), options, &table));
  neighbor_rows_.copy_(table.ids);
  table = TopKTable();  // freed before the routing's copies are made (classifier_memory.h)
  return RouteNeighbors(epoch);
}

Status Trainer::RouteNeighbors(int64_t epoch) {
  if (config_.classifier.smoothing == 0) return Status::Ok();
  std::vector<at::Tensor> loads;
  for (int q = 0; q < comm_->world_size(); ++q) {
    std::vector<int64_t> ids = sampler_.EpochIds(epoch, q);
    loads.push_back(at::tensor(ids, at::TensorOptions().dtype(at::kLong)));
  }
  const RowPartition partition(data_->size(), comm_->world_size());
  return RouteRowsToLoaders(*host_comm_, partition, neighbor_rows_, loads, &neighbors_);
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

std::vector<at::Tensor> Trainer::BatchNormStatistics() {
  std::vector<at::Tensor> buffers = FloatingBuffers(model_->backbone->named_buffers());
  for (const auto& b : FloatingBuffers(model_->head->named_buffers())) buffers.push_back(b);
  return buffers;
}

Status Trainer::AverageBatchNormStatistics() {
  return AllReduceTensors(*comm_, BatchNormStatistics(), 1.0 / comm_->world_size());
}

Status Trainer::SynchronizeStep(int* stop_votes) {
  // One message per step. The gradients: each rank's backward carries its own samples' share
  // of the global mean loss, so their sum is the gradient. The BN running statistics, each
  // rank's from its own batch: their mean, so the replicas agree after every step and a
  // checkpoint taken after any step (a SIGTERM cuts a task short) holds what an uninterrupted
  // run holds there. And the ranks' stop votes: agreeing where to stop costs nothing more.
  std::vector<at::Tensor> tensors = GradientsOf(model_->Parameters());
  const double share = 1.0 / comm_->world_size();
  for (const auto& statistic : BatchNormStatistics()) {
    statistic.mul_(share);
    tensors.push_back(statistic);
  }
  const bool stop = stop_flag_ != nullptr && stop_flag_->load();
  const at::Tensor votes = at::full({1}, stop ? 1.0 : 0.0, tensors.front().options());
  tensors.push_back(votes);
  MW_RETURN_IF_ERROR(AllReduceTensors(*comm_, tensors, 1.0));
  *stop_votes = static_cast<int>(std::lround(votes.item<double>()));
  return Status::Ok();
}

Status Trainer::TrainSteps(int64_t epoch, int64_t first_step, int64_t last_step, double* mean_loss,
                           int64_t* stopped_at) {
  if (stopped_at != nullptr) *stopped_at = 0;
  if (first_step < 0 || last_step > steps_per_epoch() || first_step > last_step) {
    return Status::InvalidArgument("steps [" + std::to_string(first_step) + ", " +
                                   std::to_string(last_step) + ") of an epoch of " +
                                   std::to_string(steps_per_epoch()));
  }
  model_->backbone->train();
  model_->head->train();
  const int64_t b = config_.local_batch;
  const int64_t size = config_.augmentation.output_size;
  BatchLoaderOptions loader_options;
  loader_options.threads = config_.loader_threads;
  loader_options.prefetch = config_.prefetch_batches;
  std::vector<int64_t> epoch_ids = sampler_.EpochIds(epoch, comm_->rank());
  epoch_ids.resize(static_cast<size_t>(last_step * b));
  BatchLoader loader(*data_, augmenter_, config_.seed, epoch, std::move(epoch_ids), b, first_step,
                     loader_options);
  double loss_sum = 0;
  int64_t steps = 0;
  const bool mixed = config_.classifier.precision == Precision::kBfloat16;
  // On a GPU each batch goes through pinned memory, so its copy to the device is asynchronous.
  // One buffer serves every step: each step's loss (read on the host) waits for the stream,
  // so the last copy out of it has finished before it is refilled.
  const at::Tensor pinned = device_.is_cuda() ? at::empty({2 * b, data_->channels(), size, size},
                                                          at::TensorOptions().pinned_memory(true))
                                              : at::Tensor();
  while (!loader.done()) {
    const auto step_start = std::chrono::steady_clock::now();
    ViewBatch batch;
    MW_RETURN_IF_ERROR(loader.Next(&batch));
    const auto batch_ready = std::chrono::steady_clock::now();
    const int64_t step = batch.step;
    const std::vector<int64_t>& ids = batch.ids;
    at::Tensor views = at::from_blob(batch.views.data(), {2 * b, data_->channels(), size, size});
    if (pinned.defined()) views = pinned.copy_(views).to(device_, /*non_blocking=*/true);
    const at::Tensor id_tensor = at::tensor(ids, at::TensorOptions().dtype(at::kLong));
    const at::Tensor labels = at::cat({id_tensor, id_tensor}).to(device_);
    at::Tensor neighbors;
    if (config_.classifier.smoothing > 0) {
      const at::Tensor rows = neighbors_.narrow(0, step * b, b);
      neighbors = at::cat({rows, rows}).to(device_, at::kLong);
    }

    at::Tensor embeddings;
    {
      AutocastScope autocast(device_, mixed);
      embeddings = model_->Embed(views);
    }
    StepResult result;
    const double classifier_lr = LearningRate(config_.classifier_lr, epoch, step);
    classifier_->set_position(epoch, step);
    MW_RETURN_IF_ERROR(classifier_->Step(embeddings.detach().to(at::kFloat), labels, neighbors,
                                         classifier_lr, &result));
    model_->optimizer->zero_grad();
    embeddings.backward(result.feature_grad.to(embeddings.scalar_type()));
    int stop_votes = 0;
    MW_RETURN_IF_ERROR(SynchronizeStep(&stop_votes));
    const double lr = LearningRate(config_.lr, epoch, step);
    for (auto& group : model_->optimizer->param_groups()) {
      static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
    }
    model_->optimizer->step();
    loss_sum += result.loss;
    ++steps;
    if (step_observer_) {
      const auto done = std::chrono::steady_clock::now();
      StepStats stats;
      stats.epoch = epoch;
      stats.step = step;
      stats.loss = result.loss;
      stats.lr = lr;
      stats.classifier_lr = classifier_lr;
      stats.samples = 2 * b;
      stats.seconds = std::chrono::duration<double>(done - step_start).count();
      stats.data_wait_seconds = std::chrono::duration<double>(batch_ready - step_start).count();
      step_observer_(stats);
    }
    if (stop_votes > 0 && step + 1 < last_step) {
      if (stopped_at != nullptr) *stopped_at = step + 1;
      break;
    }
  }
  *mean_loss = steps > 0 ? loss_sum / static_cast<double>(steps) : 0;
  return Status::Ok();  // each step left the replicas' statistics averaged
}

Status Trainer::FeaturesPart(const Dataset& data, at::Tensor* out) {
  torch::NoGradGuard no_grad;
  model_->backbone->eval();
  const RowPartition partition(data.size(), comm_->world_size());
  const int64_t begin = partition.begin(comm_->rank());
  const int64_t dim = model_->backbone->feature_dim();
  *out = at::empty({partition.size(comm_->rank()), dim});
  constexpr int64_t kChunk = 512;
  for (int64_t i = 0; i < partition.size(comm_->rank()); i += kChunk) {
    const int64_t n = std::min(kChunk, partition.size(comm_->rank()) - i);
    at::Tensor images;
    MW_RETURN_IF_ERROR(PlainImages(data, augmenter_, begin + i, n, &images));
    out->narrow(0, i, n).copy_(model_->backbone->Features(images.to(device_)));
  }
  return Status::Ok();
}

Status Trainer::Features(const Dataset& data, at::Tensor* out) {
  at::Tensor part;
  MW_RETURN_IF_ERROR(FeaturesPart(data, &part));
  return GatherFeatures(part, data.size(), out);
}

Status Trainer::GatherFeatures(const at::Tensor& part, int64_t size, at::Tensor* out) {
  const RowPartition partition(size, comm_->world_size());
  // Parts differ by at most one image: pad each to the largest, gather, drop the padding.
  at::Tensor mine = at::zeros({partition.max_size(), part.size(1)});
  mine.narrow(0, 0, part.size(0)).copy_(part);
  at::Tensor all = at::empty({comm_->world_size(), partition.max_size(), part.size(1)});
  MW_RETURN_IF_ERROR(host_comm_->AllGather(ViewOf(mine), ViewOf(all)));
  std::vector<at::Tensor> parts;
  for (int q = 0; q < comm_->world_size(); ++q) {
    parts.push_back(all[q].narrow(0, 0, partition.size(q)));
  }
  *out = at::cat(parts);
  return Status::Ok();
}

}  // namespace mw
