// One rank of bench/classifier_step: times the classifier step of one layout and prints,
// from rank 0, a JSON line with the figures of the slowest rank.
//
//   classifier_step_rank --layout sharded|replicated --classes N --batch B [--dim 128]
//                        [--chunk 1024] [--cache -1] [--sampled 0] [--smoothing 0.2]
//                        [--steps 3] [--warmup 1] [--threads 1]
// --sampled m: sampled-instance classification (the batch's classes plus m drawn per step).
// Rank, world size and rendezvous come from MW_RANK, MW_WORLD_SIZE, MW_STORE_PORT.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <sys/resource.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "bench/support/exit_status.h"
#include "worker/classifier/classifier.h"
#include "worker/classifier/sampled_classifier.h"
#include "worker/comm/gloo_communicator.h"

namespace mw {
namespace {

struct Args {
  std::string layout = "sharded";
  int64_t classes = 100000;
  int64_t dim = 128;
  int64_t batch = 1024;
  int64_t chunk = 1024;
  int64_t cache = -1;
  int64_t sampled = 0;
  double smoothing = 0.2;
  int steps = 3;
  int warmup = 1;
  int threads = 1;
};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

double PeakRssBytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) * 1024.0;
}

// The BLAS library LibTorch's matrix products land in, as mapped into this process.
std::string LoadedBlas() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    if (path.find("blas") != std::string::npos) return path;
  }
  return "unknown";
}

// GFLOP/s of at::mm on the step's own shape ([B, d] x [d, cols]) while every rank does the
// same, so the rate shares the cores as the step does.
double MatmulRate(int64_t batch, int64_t dim, int64_t cols) {
  at::Tensor a = at::randn({batch, dim});
  at::Tensor b = at::randn({cols, dim});
  at::Tensor out = at::empty({batch, cols});
  at::mm_out(out, a, b.t());
  const int reps = 3;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) at::mm_out(out, a, b.t());
  return 2.0 * batch * dim * cols * reps / Seconds(start) / 1e9;
}

Status Run(const Args& args) {
  GangOptions options;
  options.timeout = std::chrono::minutes(10);
  MW_RETURN_IF_ERROR(GangOptionsFromEnvironment(&options));
  std::unique_ptr<Communicator> comm;
  MW_RETURN_IF_ERROR(GlooCommunicator::Create(options, &comm));
  const int world = comm->world_size();
  if (args.batch % world != 0) return Status::InvalidArgument("batch must divide by world size");
  const int64_t local = args.batch / world;

  ClassifierConfig config;
  config.num_classes = args.classes;
  config.dim = args.dim;
  config.chunk_rows = args.chunk;
  config.logit_cache_bytes = args.cache;
  config.sampled_classes = args.sampled;
  config.smoothing = args.smoothing;
  std::unique_ptr<Classifier> classifier;
  const bool sharded = args.layout == "sharded";
  MW_RETURN_IF_ERROR(
      Classifier::Create(sharded ? ClassifierLayout::kSharded : ClassifierLayout::kReplicated,
                         config, comm.get(), &classifier));
  classifier->weights().normal_();
  const int64_t rows = classifier->row_end() - classifier->row_begin();

  const double setup_rss = PeakRssBytes();
  std::vector<double> times;
  double scored_rows = 0;  // rows scored per timed step (all of them, unless sampled)
  for (int step = 0; step < args.warmup + args.steps; ++step) {
    at::Tensor features = at::randn({local, args.dim});
    at::Tensor ids = at::randint(0, args.classes, {local}, at::TensorOptions().dtype(at::kLong));
    // Neighbours ids + 1..k (mod N): valid, distinct, never the sample itself.
    at::Tensor neighbors =
        (ids.unsqueeze(1) + at::arange(1, config.top_k + 1, ids.options()).unsqueeze(0))
            .remainder_(args.classes);
    if (step == args.warmup) comm->ResetTraffic();
    MW_RETURN_IF_ERROR(comm->Barrier());
    const auto start = std::chrono::steady_clock::now();
    StepResult result;
    MW_RETURN_IF_ERROR(classifier->Step(features, ids, neighbors, 0.1, &result));
    if (step >= args.warmup) {
      times.push_back(Seconds(start));
      const auto* sampled = dynamic_cast<const SampledClassifier*>(classifier.get());
      scored_rows += static_cast<double>(sampled ? sampled->last_classes().size(0) : rows);
    }
  }
  const double peak_rss = PeakRssBytes();
  // Matrix rows one rank multiplies: the whole global batch against its shard, or its own
  // samples against every class. Measured after the steps so its buffers stay out of the
  // peak RSS above.
  MW_RETURN_IF_ERROR(comm->Barrier());
  const int64_t product_rows = sharded ? args.batch : local;
  const double mm_rate = MatmulRate(product_rows, args.dim, std::min<int64_t>(rows, 16384));
  std::sort(times.begin(), times.end());
  const double median = times[times.size() / 2];
  // Useful work: logits, exp x W for the feature gradient, E^T x X for the weight gradient.
  const double flops =
      3.0 * 2.0 * static_cast<double>(product_rows) * (scored_rows / args.steps) * args.dim;

  // Report the slowest rank's time and largest memory, the smallest matmul rate.
  std::vector<double> figures{median, peak_rss, -mm_rate,
                              static_cast<double>(comm->traffic().bytes_sent) / args.steps,
                              setup_rss};
  MW_RETURN_IF_ERROR(
      comm->AllReduce(BufferView{figures.data(), 5, DataType::kFloat64}, ReduceOp::kMax));
  if (comm->rank() == 0) {
    const double step_time = figures[0];
    const nlohmann::json line = {{"impl", args.sampled > 0 ? "sampled" : args.layout},
                                 {"sampled", args.sampled},
                                 {"smoothing", args.smoothing},
                                 {"classes", args.classes},
                                 {"world", world},
                                 {"batch", args.batch},
                                 {"chunk", args.chunk},
                                 {"cache", args.cache},
                                 {"step_s", step_time},
                                 {"peak_rss_bytes", figures[1]},
                                 {"setup_rss_bytes", figures[4]},
                                 {"bytes_per_step", figures[3]},
                                 {"gflops", flops / step_time / 1e9},
                                 {"mm_gflops", -figures[2]},
                                 {"blas", LoadedBlas()},
                                 {"threads", at::get_num_threads()}};
    std::printf("%s\n", line.dump().c_str());
    std::fflush(stdout);
  }
  return comm->Barrier();
}

}  // namespace
}  // namespace mw

int main(int argc, char** argv) {
  mw::Args a;
  CLI::App app{"One rank of bench/classifier_step"};
  app.add_option("--layout", a.layout, "sharded or replicated")
      ->check(CLI::IsMember({"sharded", "replicated"}));
  app.add_option("--classes", a.classes, "N");
  app.add_option("--dim", a.dim, "d");
  app.add_option("--batch", a.batch, "global batch B");
  app.add_option("--chunk", a.chunk, "rows per logit chunk (0: whole shard)");
  app.add_option("--cache", a.cache, "logit cache bytes (-1: all, 0: none)");
  app.add_option("--sampled", a.sampled, "classes drawn per step (0: every class)");
  app.add_option("--smoothing", a.smoothing, "alpha: label mass on the top-k (0: off)");
  app.add_option("--steps", a.steps, "timed steps");
  app.add_option("--warmup", a.warmup, "untimed steps first");
  app.add_option("--threads", a.threads, "intra-op threads");
  CLI11_PARSE(app, argc, argv);
  at::set_num_threads(a.threads);
  return mw::ExitStatus("classifier_step_rank", mw::Run(a));
}
