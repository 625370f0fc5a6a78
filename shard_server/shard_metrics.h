// What a shard server counts for Prometheus besides its calls (common/rpc/grpc_metrics.h):
// bytes written and served, checkpoints committed, how long commits take and how large the
// last one was.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

namespace mw {

class MetricsServer;

struct ShardMetrics {
  explicit ShardMetrics(MetricsServer& server);

  prometheus::Counter& written_bytes;
  prometheus::Counter& read_bytes;
  prometheus::Counter& commits;
  prometheus::Histogram& commit_seconds;
  prometheus::Gauge& last_commit_bytes;
};

}  // namespace mw
