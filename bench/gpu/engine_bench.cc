// The engine's side of bench/gpu/run.sh: each mode times one thing on one device and prints
// one JSON line. Built in the engine-only mode, so it needs LibTorch (+ CUDA, NCCL) and
// nothing else: flags are parsed by hand, JSON is printed by hand.
//
//   engine_bench matmul     --device cuda [--size 8192]
//   engine_bench classifier --device cuda --rows N --batch B [--dim 128] [--precision bf16]
//                           [--chunk 8192] [--cache -1] [--smoothing 0] [--steps 10]
//   engine_bench resnet50   --device cuda [--batch 256] [--precision bf16] [--steps 10]
//   engine_bench worker     --device cuda --rows N --batch B --local-images n [--steps 5]
//
// classifier: one rank's share of the step (rows of N, the global batch B gathered), on a
// gang of one. worker: ResNet-50 + head on n images x 2 views, and the classifier step on B
// samples of which those 2n are this rank's, as one GPU of a gang of B / 2n does it (the
// collectives, over NVLink or the network, not included).
#include <ATen/ATen.h>
#include <torch/cuda.h>
#include <torch/nn/module.h>
#include <torch/optim/sgd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/process_group.h"
#include "worker/classifier/classifier.h"
#include "worker/comm/device_memory.h"
#include "worker/comm/gang_communicator.h"
#include "worker/comm/torch_device.h"
#include "worker/model/autocast_scope.h"
#include "worker/model/projection_head.h"
#include "worker/model/resnet.h"

namespace mw {
namespace {

struct Flags {
  std::map<std::string, std::string> values;

  std::string Get(const std::string& name, const std::string& fallback) const {
    const auto it = values.find(name);
    return it == values.end() ? fallback : it->second;
  }
  int64_t Int(const std::string& name, int64_t fallback) const {
    return std::stoll(Get(name, std::to_string(fallback)));
  }
  double Real(const std::string& name, double fallback) const {
    return std::stod(Get(name, std::to_string(fallback)));
  }
};

Status ParseFlags(int argc, char** argv, Flags* out) {
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 || i + 1 >= argc) {
      return Status::InvalidArgument("expected --flag value, got '" + arg + "'");
    }
    out->values[arg.substr(2)] = argv[++i];
  }
  return Status::Ok();
}

// Wall time of fn() with the device drained before and after, so queued GPU work is counted.
template <typename Fn>
double TimedSeconds(const c10::Device& device, Fn&& fn) {
  if (device.is_cuda()) torch::cuda::synchronize();
  const auto start = std::chrono::steady_clock::now();
  fn();
  if (device.is_cuda()) torch::cuda::synchronize();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string PeakBytes(const DeviceSpec& device) {
  const auto memory = ReadDeviceMemory(device);
  return memory ? std::to_string(memory->peak) : "null";
}

Status ParseDeviceAndPrecision(const Flags& flags, DeviceSpec* device, Precision* precision) {
  MW_RETURN_IF_ERROR(ParseDevice(flags.Get("device", "cuda"), device));
  *device = BindGpu(*device, 0);
  MW_RETURN_IF_ERROR(CheckDeviceAvailable(*device));
  if (device->cuda) at::globalContext().setBenchmarkCuDNN(true);  // as the PyTorch peer
  return ParsePrecision(flags.Get("precision", "bf16"), precision);
}

// TFLOP/s of a square bf16 (fp32 on the CPU) matrix product: the rate the classifier's is
// compared with.
Status Matmul(const Flags& flags) {
  DeviceSpec spec;
  Precision precision;
  MW_RETURN_IF_ERROR(ParseDeviceAndPrecision(flags, &spec, &precision));
  const c10::Device device = TorchDevice(spec);
  const int64_t n = flags.Int("size", 8192);
  const auto options =
      at::TensorOptions().device(device).dtype(device.is_cuda() ? at::kBFloat16 : at::kFloat);
  const at::Tensor a = at::randn({n, n}, options), b = at::randn({n, n}, options);
  at::Tensor c = at::empty({n, n}, options);
  at::mm_out(c, a, b);
  const int reps = device.is_cuda() ? 20 : 2;
  const double seconds = TimedSeconds(device, [&] {
    for (int i = 0; i < reps; ++i) at::mm_out(c, a, b);
  });
  std::printf("{\"mode\": \"matmul\", \"device\": \"%s\", \"size\": %lld, \"tflops\": %.4f}\n",
              spec.ToString().c_str(), static_cast<long long>(n),
              2.0 * n * n * n * reps / seconds / 1e12);
  return Status::Ok();
}

struct ClassifierRun {
  std::unique_ptr<Communicator> comm;
  std::unique_ptr<Classifier> classifier;
  c10::Device device{c10::kCPU};
};

Status MakeClassifier(const Flags& flags, const DeviceSpec& spec, Precision precision, int64_t rows,
                      ClassifierRun* run) {
  GangOptions gang;
  gang.store_port = FreeLoopbackPort();
  MW_RETURN_IF_ERROR(ConnectGang(gang, spec, &run->comm));
  ClassifierConfig config;
  config.num_classes = rows;
  config.dim = flags.Int("dim", 128);
  config.precision = precision;
  config.device = spec;
  config.chunk_rows = flags.Int("chunk", 8192);
  config.logit_cache_bytes = flags.Int("cache", -1);
  config.smoothing = flags.Real("smoothing", 0);
  config.top_k = config.smoothing > 0 ? 100 : 0;
  MW_RETURN_IF_ERROR(
      Classifier::Create(ClassifierLayout::kSharded, config, run->comm.get(), &run->classifier));
  run->device = TorchDevice(spec);
  run->classifier->weights().normal_();
  return Status::Ok();
}

// Ids and top-k neighbours (ids + 1..k mod rows: valid, distinct, never the sample) for B.
std::pair<at::Tensor, at::Tensor> Labels(const Classifier& classifier, int64_t batch,
                                         const c10::Device& device) {
  const int64_t rows = classifier.config().num_classes;
  const auto longs = at::TensorOptions().dtype(at::kLong).device(device);
  at::Tensor ids = at::randint(0, rows, {batch}, longs);
  at::Tensor neighbors;
  if (classifier.config().smoothing > 0) {
    neighbors =
        (ids.unsqueeze(1) + at::arange(1, classifier.config().top_k + 1, longs)).remainder_(rows);
  }
  return {ids, neighbors};
}

Status ClassifierStep(const Flags& flags) {
  DeviceSpec spec;
  Precision precision;
  MW_RETURN_IF_ERROR(ParseDeviceAndPrecision(flags, &spec, &precision));
  const int64_t rows = flags.Int("rows", 160000), batch = flags.Int("batch", 4096);
  ClassifierRun run;
  MW_RETURN_IF_ERROR(MakeClassifier(flags, spec, precision, rows, &run));
  const int64_t dim = run.classifier->config().dim;
  std::vector<double> times;
  const int64_t steps = flags.Int("steps", 10), warmup = 2;
  for (int64_t step = 0; step < warmup + steps; ++step) {
    const at::Tensor features = at::randn({batch, dim}, at::TensorOptions().device(run.device));
    const auto [ids, neighbors] = Labels(*run.classifier, batch, run.device);
    if (step == warmup) ResetPeakDeviceMemory(spec);
    StepResult result;
    Status status;
    const double seconds = TimedSeconds(
        run.device, [&] { status = run.classifier->Step(features, ids, neighbors, 0.1, &result); });
    MW_RETURN_IF_ERROR(status);
    if (step >= warmup) times.push_back(seconds);
  }
  const double step_s = Median(times);
  // Logits, exp x W for the feature gradient, E^T x X for the row gradient; blocks past the
  // cache are recomputed (one more product each).
  const int64_t cache = run.classifier->config().logit_cache_bytes;
  const double cached = cache < 0 ? 1.0
                                  : std::min(1.0, static_cast<double>(cache) /
                                                      (static_cast<double>(batch) * rows *
                                                       static_cast<double>(LogitBytes(precision))));
  const double flops = (3.0 + (1.0 - cached)) * 2.0 * batch * rows * dim;
  std::printf(
      "{\"mode\": \"classifier\", \"device\": \"%s\", \"precision\": \"%s\", \"rows\": %lld, "
      "\"batch\": %lld, \"chunk\": %lld, \"cache\": %lld, \"step_s\": %.6f, \"tflops\": %.4f, "
      "\"peak_bytes\": %s}\n",
      spec.ToString().c_str(), PrecisionName(precision), static_cast<long long>(rows),
      static_cast<long long>(batch), static_cast<long long>(run.classifier->config().chunk_rows),
      static_cast<long long>(cache), step_s, flops / step_s / 1e12, PeakBytes(spec).c_str());
  return Status::Ok();
}

// Four-dimensional parameters in channels-last layout, as the input: cuDNN's fast NHWC paths.
void ToChannelsLast(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters()) {
    if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
  }
}

struct Backbone {
  ResNet resnet{nullptr};
  ProjectionHead head{nullptr};
  std::unique_ptr<torch::optim::SGD> optimizer;
};

Backbone MakeBackbone(const c10::Device& device, int64_t embedding_dim) {
  Backbone b;
  b.resnet = ResNet(ResNetSpec::ResNet50());
  b.head = ProjectionHead(b.resnet->feature_dim(), 2048, embedding_dim);
  b.resnet->to(device);
  b.head->to(device);
  ToChannelsLast(*b.resnet);
  std::vector<at::Tensor> params = b.resnet->parameters();
  for (const auto& p : b.head->parameters()) params.push_back(p);
  b.optimizer = std::make_unique<torch::optim::SGD>(
      params, torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(1e-4));
  return b;
}

at::Tensor Images(int64_t n, const c10::Device& device) {
  return at::randn({n, 3, 224, 224}, at::TensorOptions().device(device))
      .contiguous(at::MemoryFormat::ChannelsLast);
}

// torchvision's ResNet-50 with a cross-entropy over 1000 classes, as PyTorch's own
// benchmarks step it: the peer in pytorch_peers.py does the same.
Status ResNet50Step(const Flags& flags) {
  DeviceSpec spec;
  Precision precision;
  MW_RETURN_IF_ERROR(ParseDeviceAndPrecision(flags, &spec, &precision));
  const c10::Device device = TorchDevice(spec);
  const int64_t batch = flags.Int("batch", 256);
  ResNet resnet(ResNetSpec::ResNet50());
  resnet->to(device);
  ToChannelsLast(*resnet);
  torch::optim::SGD optimizer(resnet->parameters(),
                              torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(1e-4));
  const at::Tensor images = Images(batch, device);
  const at::Tensor labels =
      at::randint(0, 1000, {batch}, at::TensorOptions().dtype(at::kLong).device(device));
  std::vector<double> times;
  const int64_t steps = flags.Int("steps", 10), warmup = 3;
  for (int64_t step = 0; step < warmup + steps; ++step) {
    if (step == warmup) ResetPeakDeviceMemory(spec);
    const double seconds = TimedSeconds(device, [&] {
      at::Tensor loss;
      {
        AutocastScope autocast(device, precision == Precision::kBfloat16);
        loss = at::cross_entropy_loss(resnet->forward(images), labels);
      }
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
    });
    if (step >= warmup) times.push_back(seconds);
  }
  const double step_s = Median(times);
  std::printf(
      "{\"mode\": \"resnet50\", \"device\": \"%s\", \"precision\": \"%s\", \"batch\": %lld, "
      "\"step_s\": %.6f, \"images_per_s\": %.2f, \"peak_bytes\": %s}\n",
      spec.ToString().c_str(), PrecisionName(precision), static_cast<long long>(batch), step_s,
      static_cast<double>(batch) / step_s, PeakBytes(spec).c_str());
  return Status::Ok();
}

Status WorkerStep(const Flags& flags) {
  DeviceSpec spec;
  Precision precision;
  MW_RETURN_IF_ERROR(ParseDeviceAndPrecision(flags, &spec, &precision));
  const int64_t rows = flags.Int("rows", 1775000), batch = flags.Int("batch", 4096);
  const int64_t images = flags.Int("local-images", 256), views = 2 * images;
  if (views > batch) return Status::InvalidArgument("2 x local-images must be <= batch");
  ClassifierRun run;
  MW_RETURN_IF_ERROR(MakeClassifier(flags, spec, precision, rows, &run));
  const c10::Device device = run.device;
  Backbone model = MakeBackbone(device, run.classifier->config().dim);
  const at::Tensor input = Images(views, device);
  std::vector<double> times;
  const int64_t steps = flags.Int("steps", 5), warmup = 2;
  for (int64_t step = 0; step < warmup + steps; ++step) {
    // The other ranks' samples, as the all-gather would bring them.
    const at::Tensor others = at::randn({batch - views, run.classifier->config().dim},
                                        at::TensorOptions().device(device));
    const auto [ids, neighbors] = Labels(*run.classifier, batch, device);
    if (step == warmup) ResetPeakDeviceMemory(spec);
    Status status;
    const double seconds = TimedSeconds(device, [&] {
      at::Tensor embeddings;
      {
        AutocastScope autocast(device, precision == Precision::kBfloat16);
        embeddings = model.head->forward(model.resnet->Features(input));
      }
      StepResult result;
      status = run.classifier->Step(at::cat({embeddings.detach().to(at::kFloat), others}), ids,
                                    neighbors, 0.1, &result);
      if (!status.ok()) return;
      model.optimizer->zero_grad();
      embeddings.backward(result.feature_grad.narrow(0, 0, views).to(embeddings.scalar_type()));
      model.optimizer->step();
    });
    MW_RETURN_IF_ERROR(status);
    if (step >= warmup) times.push_back(seconds);
  }
  const double step_s = Median(times);
  std::printf(
      "{\"mode\": \"worker\", \"device\": \"%s\", \"precision\": \"%s\", \"rows\": %lld, "
      "\"batch\": %lld, \"local_images\": %lld, \"step_s\": %.6f, \"images_per_s\": %.2f, "
      "\"peak_bytes\": %s}\n",
      spec.ToString().c_str(), PrecisionName(precision), static_cast<long long>(rows),
      static_cast<long long>(batch), static_cast<long long>(images), step_s,
      static_cast<double>(images) / step_s, PeakBytes(spec).c_str());
  return Status::Ok();
}

Status Run(int argc, char** argv) {
  if (argc < 2)
    return Status::InvalidArgument("usage: engine_bench matmul|classifier|resnet50|worker ...");
  Flags flags;
  MW_RETURN_IF_ERROR(ParseFlags(argc, argv, &flags));
  const std::string mode = argv[1];
  if (mode == "matmul") return Matmul(flags);
  if (mode == "classifier") return ClassifierStep(flags);
  if (mode == "resnet50") return ResNet50Step(flags);
  if (mode == "worker") return WorkerStep(flags);
  return Status::InvalidArgument("unknown mode '" + mode + "'");
}

}  // namespace
}  // namespace mw

int main(int argc, char** argv) {
  try {
    const mw::Status status = mw::Run(argc, argv);
    if (status.ok()) return 0;
    std::fprintf(stderr, "engine_bench: %s\n", status.ToString().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "engine_bench: %s\n", e.what());
  }
  return 1;
}
