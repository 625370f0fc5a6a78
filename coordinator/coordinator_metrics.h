// What the coordinator exports to Prometheus (besides its calls, common/rpc/grpc_metrics.h):
// events counted as they happen (jobs finished by state, gang stops by cause, workers lost,
// checkpoint commit latency), and, read from the coordinator at every scrape, jobs by
// state, workers registered and alive, and each running or recently finished job's epoch,
// progress, loss, accuracy, gang size and last checkpoint time. Jobs are labelled job_id
// (Prometheus reserves `job` for the scrape job); finished jobs stay for the last few only,
// so the label's values stay bounded.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace mw {

class MetricsServer;

struct JobGauges {
  std::string id;
  std::string state;
  double epoch = 0;
  double epochs = 0;
  double progress = 0;
  double loss = 0;
  double knn_top1 = 0;
  double linear_top1 = 0;
  double world_size = 0;
  double last_checkpoint = 0;
  double last_checkpoint_unix_seconds = 0;  // or when its gang started, before its first
};

struct CoordinatorSnapshot {
  std::map<std::string, double> jobs_by_state;  // every state, 0 included
  double workers_registered = 0;
  double workers_alive = 0;
  double workers_busy = 0;
  std::vector<JobGauges> jobs;
};

class CoordinatorMetrics {
 public:
  explicit CoordinatorMetrics(MetricsServer& server);

  void JobFinished(const std::string& state) { finished_.Add({{"state", state}}).Increment(); }
  // cause: failure, leaving, regang, cancel.
  void GangStopped(const std::string& cause) { stops_.Add({{"cause", cause}}).Increment(); }
  void WorkerLost() { workers_lost_.Increment(); }
  void CheckpointCommitted(double seconds) { commit_seconds_.Observe(seconds); }

  // Called at every scrape for the gauges.
  void ReadFrom(MetricsServer& server, std::function<CoordinatorSnapshot()> snapshot);

 private:
  prometheus::Family<prometheus::Counter>& finished_;
  prometheus::Family<prometheus::Counter>& stops_;
  prometheus::Counter& workers_lost_;
  prometheus::Histogram& commit_seconds_;
};

}  // namespace mw
