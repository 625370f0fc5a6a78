#include "common/metrics/process_collector.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include "common/metrics/metric_families.h"

namespace mw {

ProcessCollector::ProcessCollector(prometheus::Labels labels)
    : labels_(std::move(labels)),
      start_time_seconds_(
          std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
              .count()) {}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  long total_pages = 0, resident_pages = 0;
  std::ifstream("/proc/self/statm") >> total_pages >> resident_pages;
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                     static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  return {ValueFamily("millionway_process_resident_memory_bytes",
                      "Resident set size of the process.", prometheus::MetricType::Gauge, labels_,
                      {{{}, static_cast<double>(resident_pages) * page}}),
          ValueFamily("millionway_process_cpu_seconds_total",
                      "User and system CPU time the process has used.",
                      prometheus::MetricType::Counter, labels_, {{{}, cpu}}),
          ValueFamily("millionway_process_start_time_seconds",
                      "When the process started, in seconds since the Unix epoch.",
                      prometheus::MetricType::Gauge, labels_, {{{}, start_time_seconds_}})};
}

}  // namespace mw
