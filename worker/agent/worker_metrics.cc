#include "worker/agent/worker_metrics.h"

#include "common/metrics/metrics_server.h"

namespace mw {

namespace {

const prometheus::Histogram::BucketBoundaries& SecondsBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
  return *buckets;
}

constexpr const char* kPhases[] = {"data_wait",      "compute",    "all_reduce", "all_gather",
                                   "reduce_scatter", "all_to_all", "broadcast",  "barrier"};

}  // namespace

struct WorkerMetrics::Families {
  explicit Families(MetricsServer& server)
      : loss(RegisterFamily(prometheus::BuildGauge(), server, "millionway_train_loss",
                            "Loss of the last training step on this rank.")),
        lr(RegisterFamily(prometheus::BuildGauge(), server, "millionway_learning_rate",
                          "Learning rate of the last step, by parameter group (backbone: backbone "
                          "and head; classifier: the classifier's rows).")),
        samples(RegisterFamily(prometheus::BuildCounter(), server, "millionway_train_samples_total",
                               "Views (two per image) this rank has trained on.")),
        steps(RegisterFamily(prometheus::BuildCounter(), server, "millionway_train_steps_total",
                             "Training steps this rank has taken.")),
        step_seconds(RegisterFamily(prometheus::BuildHistogram(), server, "millionway_step_seconds",
                                    "Wall time of a training step, from asking for its batch.")),
        phase_seconds(RegisterFamily(prometheus::BuildHistogram(), server,
                                     "millionway_step_phase_seconds",
                                     "Wall time of one part of a training step: data_wait (the "
                                     "batch not ready), each collective, compute (the rest).")),
        topk_seconds(
            RegisterFamily(prometheus::BuildHistogram(), server, "millionway_topk_refresh_seconds",
                           "Wall time of a top-k refresh (the epoch's smoothing targets).")),
        checkpoint_seconds(RegisterFamily(prometheus::BuildHistogram(), server,
                                          "millionway_checkpoint_write_seconds",
                                          "Wall time to write this rank's checkpoint pieces.")),
        checkpoint_bytes(RegisterFamily(prometheus::BuildGauge(), server,
                                        "millionway_checkpoint_write_bytes",
                                        "Bytes this rank wrote for its last checkpoint.")),
        checkpoint_blocked(RegisterFamily(
            prometheus::BuildHistogram(), server, "millionway_checkpoint_blocked_seconds",
            "Training time a checkpoint took from this rank: its snapshot (the write goes on "
            "behind the next steps).")),
        shard_bytes(RegisterFamily(prometheus::BuildGauge(), server,
                                   "millionway_classifier_shard_bytes",
                                   "Bytes of this rank's classifier rows and their momentum.")),
        device_allocated(RegisterFamily(prometheus::BuildGauge(), server,
                                        "millionway_device_memory_allocated_bytes",
                                        "Device memory held by tensors (CUDA caching allocator; "
                                        "0 with device=\"cpu\").")),
        device_reserved(RegisterFamily(prometheus::BuildGauge(), server,
                                       "millionway_device_memory_reserved_bytes",
                                       "Device memory reserved by the CUDA caching allocator (0 "
                                       "with device=\"cpu\").")),
        device_peak(RegisterFamily(prometheus::BuildGauge(), server,
                                   "millionway_device_memory_peak_bytes",
                                   "Peak device memory held by tensors (CUDA caching allocator; "
                                   "0 with device=\"cpu\").")) {
    for (auto* family : {&device_allocated, &device_reserved, &device_peak}) {
      family->Add({{"device", "cpu"}}).Set(0);
    }
  }

  prometheus::Family<prometheus::Gauge>& loss;
  prometheus::Family<prometheus::Gauge>& lr;
  prometheus::Family<prometheus::Counter>& samples;
  prometheus::Family<prometheus::Counter>& steps;
  prometheus::Family<prometheus::Histogram>& step_seconds;
  prometheus::Family<prometheus::Histogram>& phase_seconds;
  prometheus::Family<prometheus::Histogram>& topk_seconds;
  prometheus::Family<prometheus::Histogram>& checkpoint_seconds;
  prometheus::Family<prometheus::Gauge>& checkpoint_bytes;
  prometheus::Family<prometheus::Histogram>& checkpoint_blocked;
  prometheus::Family<prometheus::Gauge>& shard_bytes;
  prometheus::Family<prometheus::Gauge>& device_allocated;
  prometheus::Family<prometheus::Gauge>& device_reserved;
  prometheus::Family<prometheus::Gauge>& device_peak;
};

// The series of one job on this rank, created on joining its gang.
struct WorkerMetrics::Series {
  Series(Families& f, const prometheus::Labels& labels)
      : loss(f.loss.Add(labels)),
        backbone_lr(f.lr.Add(With(labels, "group", "backbone"))),
        classifier_lr(f.lr.Add(With(labels, "group", "classifier"))),
        samples(f.samples.Add(labels)),
        steps(f.steps.Add(labels)),
        step_seconds(f.step_seconds.Add(labels, SecondsBuckets())),
        topk_seconds(f.topk_seconds.Add(labels, SecondsBuckets())),
        checkpoint_seconds(f.checkpoint_seconds.Add(labels, SecondsBuckets())),
        checkpoint_bytes(f.checkpoint_bytes.Add(labels)),
        checkpoint_blocked(f.checkpoint_blocked.Add(labels, SecondsBuckets())),
        shard_bytes(f.shard_bytes.Add(labels)) {
    for (const char* phase : kPhases) {
      phases[phase] = &f.phase_seconds.Add(With(labels, "phase", phase), SecondsBuckets());
    }
  }

  static prometheus::Labels With(prometheus::Labels labels, const char* key, const char* value) {
    labels[key] = value;
    return labels;
  }

  void RemoveFrom(Families& f) {
    f.loss.Remove(&loss);
    f.lr.Remove(&backbone_lr);
    f.lr.Remove(&classifier_lr);
    f.samples.Remove(&samples);
    f.steps.Remove(&steps);
    f.step_seconds.Remove(&step_seconds);
    for (const auto& [phase, histogram] : phases) f.phase_seconds.Remove(histogram);
    f.topk_seconds.Remove(&topk_seconds);
    f.checkpoint_seconds.Remove(&checkpoint_seconds);
    f.checkpoint_bytes.Remove(&checkpoint_bytes);
    f.checkpoint_blocked.Remove(&checkpoint_blocked);
    f.shard_bytes.Remove(&shard_bytes);
  }

  prometheus::Gauge& loss;
  prometheus::Gauge& backbone_lr;
  prometheus::Gauge& classifier_lr;
  prometheus::Counter& samples;
  prometheus::Counter& steps;
  prometheus::Histogram& step_seconds;
  std::map<std::string, prometheus::Histogram*> phases;
  prometheus::Histogram& topk_seconds;
  prometheus::Histogram& checkpoint_seconds;
  prometheus::Gauge& checkpoint_bytes;
  prometheus::Histogram& checkpoint_blocked;
  prometheus::Gauge& shard_bytes;
};

WorkerMetrics::WorkerMetrics(MetricsServer& server)
    : server_(server), families_(std::make_unique<Families>(server)) {}

void WorkerMetrics::SetReady(bool ready) { server_.SetReady(ready); }

WorkerMetrics::~WorkerMetrics() { Leave(); }

void WorkerMetrics::Join(const std::string& job_id, int rank) {
  Leave();
  series_ = std::make_unique<Series>(
      *families_, prometheus::Labels{{"job_id", job_id}, {"rank", std::to_string(rank)}});
}

void WorkerMetrics::Leave() {
  if (!series_) return;
  series_->RemoveFrom(*families_);
  series_.reset();
}

void WorkerMetrics::Step(const StepStats& stats,
                         const std::map<std::string, double>& collective_seconds) {
  if (!series_) return;
  series_->loss.Set(stats.loss);
  series_->backbone_lr.Set(stats.lr);
  series_->classifier_lr.Set(stats.classifier_lr);
  series_->samples.Increment(static_cast<double>(stats.samples));
  series_->steps.Increment();
  series_->step_seconds.Observe(stats.seconds);
  series_->phases.at("data_wait")->Observe(stats.data_wait_seconds);
  double compute = stats.seconds - stats.data_wait_seconds;
  for (const auto& [name, seconds] : collective_seconds) {
    const auto phase = series_->phases.find(name);
    if (phase == series_->phases.end()) continue;
    phase->second->Observe(seconds);
    compute -= seconds;
  }
  series_->phases.at("compute")->Observe(std::max(0.0, compute));
}

void WorkerMetrics::TopKRefreshed(double seconds) {
  if (series_) series_->topk_seconds.Observe(seconds);
}

void WorkerMetrics::CheckpointWritten(double bytes, double seconds) {
  if (!series_) return;
  series_->checkpoint_bytes.Set(bytes);
  series_->checkpoint_seconds.Observe(seconds);
}

void WorkerMetrics::CheckpointBlocked(double seconds) {
  if (series_) series_->checkpoint_blocked.Observe(seconds);
}

void WorkerMetrics::ShardBytes(double bytes) {
  if (series_) series_->shard_bytes.Set(bytes);
}

void WorkerMetrics::SetDevice(const std::string& device) { device_ = device; }

void WorkerMetrics::DeviceMemory(double allocated, double reserved, double peak) {
  const prometheus::Labels labels{{"device", device_}};
  families_->device_allocated.Add(labels).Set(allocated);
  families_->device_reserved.Add(labels).Set(reserved);
  families_->device_peak.Add(labels).Set(peak);
}

}  // namespace mw
