#include "coordinator/coordinator_metrics.h"

#include "common/metrics/metric_families.h"
#include "common/metrics/metrics_server.h"

namespace mw {

namespace {

using prometheus::MetricType;

class SnapshotCollector : public prometheus::Collectable {
 public:
  SnapshotCollector(prometheus::Labels labels, std::function<CoordinatorSnapshot()> snapshot)
      : labels_(std::move(labels)), snapshot_(std::move(snapshot)) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    const CoordinatorSnapshot s = snapshot_();
    std::vector<std::pair<prometheus::Labels, double>> by_state;
    for (const auto& [state, count] : s.jobs_by_state)
      by_state.push_back({{{"state", state}}, count});
    std::vector<prometheus::MetricFamily> families = {
        ValueFamily("millionway_jobs", "Jobs by state.", MetricType::Gauge, labels_, by_state),
        ValueFamily("millionway_workers_registered", "Workers registered with the coordinator.",
                    MetricType::Gauge, labels_, {{{}, s.workers_registered}}),
        ValueFamily("millionway_workers_alive",
                    "Registered workers that heartbeated within two heartbeat intervals.",
                    MetricType::Gauge, labels_, {{{}, s.workers_alive}}),
        ValueFamily("millionway_workers_busy", "Workers in a gang.", MetricType::Gauge, labels_,
                    {{{}, s.workers_busy}})};
    const auto per_job = [&](const char* name, const char* help, double JobGauges::*field) {
      std::vector<std::pair<prometheus::Labels, double>> values;
      for (const auto& job : s.jobs) {
        values.push_back({{{"job_id", job.id}, {"state", job.state}}, job.*field});
      }
      families.push_back(ValueFamily(name, help, MetricType::Gauge, labels_, values));
    };
    per_job("millionway_job_epoch", "Epochs the job has completed and checkpointed.",
            &JobGauges::epoch);
    per_job("millionway_job_epochs", "Epochs in the job's spec.", &JobGauges::epochs);
    per_job("millionway_job_progress_ratio", "The job's progress, 0 to 1.", &JobGauges::progress);
    per_job("millionway_job_loss", "Mean training loss of the job's last training task.",
            &JobGauges::loss);
    per_job("millionway_job_knn_top1", "kNN top-1 accuracy of the job's last evaluation.",
            &JobGauges::knn_top1);
    per_job("millionway_job_linear_top1",
            "Linear-probe top-1 accuracy of the job's last evaluation.", &JobGauges::linear_top1);
    per_job("millionway_job_world_size", "Workers in the job's gang (0: none).",
            &JobGauges::world_size);
    per_job("millionway_job_last_checkpoint", "Number of the job's last committed checkpoint.",
            &JobGauges::last_checkpoint);
    per_job("millionway_job_last_checkpoint_timestamp_seconds",
            "When the job's last checkpoint committed (or its gang started, before one did), "
            "in seconds since the Unix epoch.",
            &JobGauges::last_checkpoint_unix_seconds);
    return families;
  }

 private:
  prometheus::Labels labels_;
  std::function<CoordinatorSnapshot()> snapshot_;
};

}  // namespace

CoordinatorMetrics::CoordinatorMetrics(MetricsServer& server)
    : finished_(prometheus::BuildCounter()
                    .Name("millionway_jobs_finished_total")
                    .Help("Jobs that ended, by final state (COMPLETED, FAILED, CANCELLED).")
                    .Labels(server.labels())
                    .Register(server.registry())),
      stops_(prometheus::BuildCounter()
                 .Name("millionway_gang_stops_total")
                 .Help("Gangs stopped before their job ended, by cause (failure, leaving, "
                       "regang, cancel).")
                 .Labels(server.labels())
                 .Register(server.registry())),
      workers_lost_(prometheus::BuildCounter()
                        .Name("millionway_workers_lost_total")
                        .Help("Workers dropped for silence or a broken task stream.")
                        .Labels(server.labels())
                        .Register(server.registry())
                        .Add({})),
      commit_seconds_(
          prometheus::BuildHistogram()
              .Name("millionway_checkpoint_commit_seconds")
              .Help("Time to commit a checkpoint on every shard server.")
              .Labels(server.labels())
              .Register(server.registry())
              .Add({}, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                               0.5, 1, 2.5, 5, 10, 30})) {
  for (const char* state : {"COMPLETED", "FAILED", "CANCELLED"}) finished_.Add({{"state", state}});
  for (const char* cause : {"failure", "leaving", "regang", "cancel"}) {
    stops_.Add({{"cause", cause}});
  }
}

void CoordinatorMetrics::ReadFrom(MetricsServer& server,
                                  std::function<CoordinatorSnapshot()> snapshot) {
  server.AddCollectable(std::make_shared<SnapshotCollector>(server.labels(), std::move(snapshot)));
}

}  // namespace mw
