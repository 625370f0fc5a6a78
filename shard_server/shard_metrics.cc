#include "shard_server/shard_metrics.h"

#include "common/metrics/metrics_server.h"

namespace mw {

ShardMetrics::ShardMetrics(MetricsServer& server)
    : written_bytes(RegisterFamily(prometheus::BuildCounter(), server,
                                   "millionway_shard_written_bytes_total",
                                   "Checkpoint piece bytes received and fsync'd.")
                        .Add({})),
      read_bytes(RegisterFamily(prometheus::BuildCounter(), server,
                                "millionway_shard_read_bytes_total",
                                "Checkpoint bytes served (rows and blobs), checksums verified.")
                     .Add({})),
      commits(RegisterFamily(prometheus::BuildCounter(), server,
                             "millionway_shard_checkpoints_committed_total",
                             "Checkpoints committed (manifest renamed into place).")
                  .Add({})),
      commit_seconds(RegisterFamily(prometheus::BuildHistogram(), server,
                                    "millionway_shard_commit_seconds",
                                    "Time to verify a checkpoint's pieces and commit its manifest.")
                         .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.005, 0.01, 0.05,
                                                                          0.1, 0.5, 1, 5, 10, 60})),
      last_commit_bytes(RegisterFamily(prometheus::BuildGauge(), server,
                                       "millionway_shard_last_commit_bytes",
                                       "Bytes of the pieces of the last checkpoint committed here.")
                            .Add({})) {}

}  // namespace mw
