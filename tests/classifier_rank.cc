// One rank of the classifier equivalence test (launched W times by classifier_test, and on a
// GPU by bench/gpu/run.sh with MW_DEVICE=cuda).
//
// For every combination of layout, smoothing, top-k, chunk size and logit cache, runs 10 SGD steps
// of the distributed classifier and, on every rank, a dense single-process reference in float64
// whose gradients come from LibTorch's autograd, not from the derivation the classifier
// implements. Checks loss, feature gradient and weight gradient at every step and the
// rows after the last, all to a relative tolerance (MW_PRECISION: f64 -> 1e-9, f32 -> 1e-4,
// bf16 -> the Tolerance below: mixed precision, whose matrix products round their inputs to
// 8 bits of mantissa).
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "tests/support/check.h"
#include "worker/classifier/classifier.h"
#include "worker/classifier/sampled_classifier.h"
#include "worker/comm/gang_communicator.h"
#include "worker/comm/tensor_buffer.h"
#include "worker/comm/torch_device.h"

namespace mw {
namespace {

constexpr int64_t kClasses = 37;  // divisible by none of 2, 3, 4
constexpr int64_t kDim = 16;
constexpr int64_t kBatch = 12;  // global batch; divisible by 1..4
constexpr int kSteps = 10;
constexpr double kLr = 0.3;

struct Case {
  bool sharded;
  double smoothing;
  int64_t top_k;
  int64_t chunk_rows;
  int64_t cached_chunks;  // -1: all
  int64_t sampled = 0;    // sampled-instance classification: classes drawn per step

  std::string Name() const {
    return std::string(sharded ? "sharded" : "replicated") + " alpha=" + std::to_string(smoothing) +
           " k=" + std::to_string(top_k) + " chunk=" + std::to_string(chunk_rows) +
           " cached=" + std::to_string(cached_chunks) + " sampled=" + std::to_string(sampled);
  }
};

struct Batch {
  at::Tensor features;   // [B, d] float64
  at::Tensor ids;        // [B]
  at::Tensor neighbors;  // [B, k]
};

Batch MakeBatch(at::Generator& gen, int64_t k, at::ScalarType dtype) {
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  Batch batch;
  // Rounded through the run's precision, so the reference sees the very inputs the
  // classifier does.
  batch.features = at::randn({kBatch, kDim}, gen, f64).to(dtype).to(at::kDouble);
  // Repeated ids on purpose: the two views of one image share their id.
  batch.ids = at::randint(0, kClasses, {kBatch}, gen, at::TensorOptions().dtype(at::kLong));
  batch.neighbors = at::empty({kBatch, k}, at::TensorOptions().dtype(at::kLong));
  for (int64_t i = 0; i < kBatch; ++i) {
    at::Tensor perm = at::randperm(kClasses, gen, at::TensorOptions().dtype(at::kLong));
    perm = perm.masked_select(perm.ne(batch.ids[i]));
    batch.neighbors[i] = perm.narrow(0, 0, k);
  }
  return batch;
}

struct Reference {
  double loss;
  at::Tensor feature_grad;  // [B, d]
  at::Tensor weight_grad;   // [N, d]
};

// The method's loss written densely, differentiated by autograd, over `classes` (global ids,
// ascending: every class, or the subset a sampled step scored).
Reference DenseReference(const at::Tensor& weights, const Batch& batch, const Case& c, double tau,
                         const at::Tensor& classes) {
  at::Tensor f = batch.features.clone().requires_grad_(true);
  at::Tensor w = weights.clone().requires_grad_(true);
  at::Tensor x = f / f.norm(2, {1}, true);
  at::Tensor w_hat = w / w.norm(2, {1}, true);
  at::Tensor log_p = (x.mm(w_hat.index_select(0, classes).t()) / tau).log_softmax(1);
  at::Tensor y = at::zeros({kBatch, kClasses}, at::TensorOptions().dtype(at::kDouble));
  for (int64_t i = 0; i < kBatch; ++i) {
    y[i][batch.ids[i].item<int64_t>()] += 1.0 - c.smoothing;
    for (int64_t j = 0; j < c.top_k; ++j) {
      y[i][batch.neighbors[i][j].item<int64_t>()] += c.smoothing / static_cast<double>(c.top_k);
    }
  }
  at::Tensor loss = -(y.index_select(1, classes) * log_p).sum() / static_cast<double>(kBatch);
  loss.backward();
  MW_CHECK(y.sum().item<double>() - y.index_select(1, classes).sum().item<double>() < 1e-12,
           "a target fell outside the scored classes");
  return {loss.item<double>(), f.grad(), w.grad()};
}

// The classes a step scored on every rank: all of them, or the union of each rank's sample.
at::Tensor ScoredClasses(Communicator& comm, const Classifier& classifier, const c10::Device& on) {
  const auto* sampled = dynamic_cast<const SampledClassifier*>(&classifier);
  if (sampled == nullptr) return at::arange(kClasses, at::TensorOptions().dtype(at::kLong));
  at::Tensor mine = at::full({kClasses}, -1, at::TensorOptions().dtype(at::kLong));
  mine.narrow(0, 0, sampled->last_classes().size(0)).copy_(sampled->last_classes());
  mine = mine.to(on);  // the communicator moves the device's buffers
  at::Tensor all = at::empty({comm.world_size() * kClasses}, mine.options());
  MW_CHECK_OK(comm.AllGather(ViewOf(mine), ViewOf(all)));
  all = all.cpu();
  return std::get<0>(at::_unique(all.masked_select(all >= 0), /*sorted=*/true));
}

double RelativeError(const at::Tensor& got, const at::Tensor& want) {
  const double scale = want.abs().max().item<double>();
  return (got.cpu().to(at::kDouble) - want).abs().max().item<double>() / std::max(scale, 1e-300);
}

struct Tolerance {
  double step;  // loss, feature gradient, weight gradient at every step
  double rows;  // the rows after the last step
};

// bf16 rounds each cosine to ~3 significant digits, so a step's loss and gradients carry ~1%
// error (worst measured over every case and W = 1..3: 1.03%); the rows, updated in fp32 by
// small steps, end within 0.04% (measured 3.8e-4). Both bounds are about twice what was measured.
Tolerance ToleranceOf(Precision precision) {
  switch (precision) {
    case Precision::kFloat64:
      return {1e-9, 1e-9};
    case Precision::kBfloat16:
      return {2e-2, 1e-3};
    case Precision::kFloat32:
      break;
  }
  return {1e-4, 1e-4};
}

void RunCase(Communicator& comm, const DeviceSpec& device, const Case& c, Precision precision) {
  const double tolerance = ToleranceOf(precision).step;
  const double row_tolerance = ToleranceOf(precision).rows;
  const at::ScalarType dtype = ScalarTypeOf(precision);
  const c10::Device on = TorchDevice(device);
  ClassifierConfig config;
  config.num_classes = kClasses;
  config.dim = kDim;
  config.temperature = 0.15;
  config.top_k = c.top_k;
  config.smoothing = c.smoothing;
  config.momentum = 0.9;
  config.weight_decay = 0.01;
  config.chunk_rows = c.chunk_rows;
  // The budget is in bytes of whole [local batch x chunk] blocks (replicated: local batch).
  const int64_t rows_scored = c.sharded ? kBatch : kBatch / comm.world_size();
  const int64_t block_bytes =
      rows_scored * std::max<int64_t>(c.chunk_rows, 1) * LogitBytes(precision);
  config.logit_cache_bytes = c.cached_chunks < 0 ? -1 : c.cached_chunks * block_bytes;
  config.precision = precision;
  config.device = device;
  config.sampled_classes = c.sampled;

  std::unique_ptr<Classifier> classifier;
  MW_CHECK_OK(
      Classifier::Create(c.sharded ? ClassifierLayout::kSharded : ClassifierLayout::kReplicated,
                         config, &comm, &classifier));
  classifier->set_keep_weight_grad(true);
  const int64_t begin = classifier->row_begin();
  const int64_t rows = classifier->row_end() - begin;

  auto gen = at::make_generator<at::CPUGeneratorImpl>(1234 + c.top_k * 10 + c.chunk_rows);
  at::Tensor ref_weights = at::randn({kClasses, kDim}, gen, at::TensorOptions().dtype(at::kDouble))
                               .to(dtype)
                               .to(at::kDouble);
  const at::Tensor initial_weights = ref_weights.clone();
  at::Tensor ref_momentum = at::zeros_like(ref_weights);
  classifier->weights().copy_(ref_weights.narrow(0, begin, rows));

  const int64_t local = kBatch / comm.world_size();
  const int64_t first = comm.rank() * local;
  const std::string name = c.Name() + " " + PrecisionName(precision);
  double worst = 0;
  for (int step = 0; step < kSteps; ++step) {
    Batch batch = MakeBatch(gen, c.top_k, dtype);
    StepResult result;
    MW_CHECK_OK(classifier->Step(batch.features.narrow(0, first, local).to(on, dtype),
                                 batch.ids.narrow(0, first, local).to(on),
                                 batch.neighbors.narrow(0, first, local).to(on), kLr, &result));
    const at::Tensor classes = ScoredClasses(comm, *classifier, on);
    MW_CHECK(c.sampled == 0 || classes.size(0) < kClasses, "%s step %d: every class was scored",
             name.c_str(), step);
    Reference ref = DenseReference(ref_weights, batch, c, config.temperature, classes);
    const double loss_error = std::abs(result.loss - ref.loss) / std::abs(ref.loss);
    worst = std::max(worst, loss_error);
    MW_CHECK(loss_error <= tolerance, "%s step %d: loss %.12g vs %.12g", name.c_str(), step,
             result.loss, ref.loss);
    const double fg = RelativeError(result.feature_grad, ref.feature_grad.narrow(0, first, local));
    MW_CHECK(fg <= tolerance, "%s step %d: feature grad error %g", name.c_str(), step, fg);
    worst = std::max(worst, fg);
    const double wg = RelativeError(result.weight_grad, ref.weight_grad.narrow(0, begin, rows));
    MW_CHECK(wg <= tolerance, "%s step %d: weight grad error %g", name.c_str(), step, wg);
    worst = std::max(worst, wg);

    // Only the scored rows take a step (their decay and momentum too).
    at::Tensor g = (ref.weight_grad + config.weight_decay * ref_weights).index_select(0, classes);
    ref_momentum.index_copy_(0, classes,
                             ref_momentum.index_select(0, classes).mul_(config.momentum).add_(g));
    ref_weights.index_copy_(
        0, classes,
        ref_weights.index_select(0, classes) - kLr * ref_momentum.index_select(0, classes));
  }
  const double we = RelativeError(classifier->weights(), ref_weights.narrow(0, begin, rows));
  MW_CHECK(we <= row_tolerance, "%s: rows after %d steps, error %g", name.c_str(), kSteps, we);
  // The comparison means something only if the steps moved the rows well past tolerance.
  const double moved = RelativeError(ref_weights, initial_weights);
  MW_CHECK(moved > 50 * row_tolerance, "%s: rows moved only %g", name.c_str(), moved);
  if (comm.rank() == 0 && std::getenv("MW_REPORT_ERRORS") != nullptr) {
    std::printf("%s: worst error %.3g, rows %.3g, moved %.3g\n", name.c_str(), worst, we, moved);
  }
}

}  // namespace
}  // namespace mw

int main() {
  const char* name = std::getenv("MW_PRECISION");
  const std::string text = name == nullptr ? "f32" : name;
  const mw::Precision precision = text == "f64"    ? mw::Precision::kFloat64
                                  : text == "bf16" ? mw::Precision::kBfloat16
                                                   : mw::Precision::kFloat32;
  at::set_num_threads(1);

  mw::GangOptions options;
  options.timeout = std::chrono::seconds(60);
  MW_CHECK_OK(mw::GangOptionsFromEnvironment(&options));
  mw::DeviceSpec device;
  if (const char* text = std::getenv("MW_DEVICE")) MW_CHECK_OK(mw::ParseDevice(text, &device));
  device = mw::BindGpu(device, options.rank);  // one rank per GPU
  std::unique_ptr<mw::Communicator> comm;
  MW_CHECK_OK(mw::ConnectGang(options, device, &comm));

  for (bool sharded : {true, false}) {
    for (double smoothing : {0.0, 0.2}) {
      for (int64_t top_k : {1, 7}) {
        for (int64_t chunk : {0, 1, 5}) {
          for (int64_t cached : {0, 2, -1}) {
            mw::RunCase(*comm, device, mw::Case{sharded, smoothing, top_k, chunk, cached},
                        precision);
          }
        }
      }
    }
  }
  // Sampled-instance classification against the reference restricted to the scored classes
  // (k = 1, so the batch's own classes leave most of the 37 unscored).
  for (double smoothing : {0.0, 0.2}) {
    for (int64_t chunk : {0, 5}) {
      for (int64_t cached : {0, -1}) {
        mw::RunCase(*comm, device, mw::Case{true, smoothing, 1, chunk, cached, /*sampled=*/5},
                    precision);
      }
    }
  }
  return 0;
}
