// ProcessCollector: the process's resource usage, read at scrape time: resident memory
// (/proc/self/statm), CPU seconds (getrusage), and the start time, under millionway_process_*
// names (prometheus-cpp has no process collector of its own).
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/labels.h>

namespace mw {

class ProcessCollector : public prometheus::Collectable {
 public:
  explicit ProcessCollector(prometheus::Labels labels);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  prometheus::Labels labels_;
  double start_time_seconds_;
};

}  // namespace mw
