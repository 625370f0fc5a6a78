// What every millionway process sets up the same way before its own work: logs (role, JSON
// or text) and the metrics endpoint with its probes. Flags: --log-format, --metrics-listen,
// --metrics-port-file, each with its MW_* environment variable.
#pragma once

#include <memory>
#include <string>

#include "common/metrics/metrics_server.h"
#include "common/status.h"

namespace mw {

struct ObservabilityOptions {
  MetricsOptions metrics;
  std::string log_format = "json";
};

void AddObservabilityFlags(CLI::App& app, ObservabilityOptions* options);
Status StartObservability(const std::string& role, const ObservabilityOptions& options,
                          std::unique_ptr<MetricsServer>* metrics);

}  // namespace mw
