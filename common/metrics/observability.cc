#include "common/metrics/observability.h"

#include "common/log.h"

namespace mw {

void AddObservabilityFlags(CLI::App& app, ObservabilityOptions* options) {
  AddLogFlags(app, &options->log_format);
  AddMetricsFlags(app, &options->metrics);
}

Status StartObservability(const std::string& role, const ObservabilityOptions& options,
                          std::unique_ptr<MetricsServer>* metrics) {
  MW_RETURN_IF_ERROR(InitLog(role, options.log_format));
  MW_RETURN_IF_ERROR(MetricsServer::Start(options.metrics, role, metrics));
  Log(LogLevel::kInfo, "metrics on port " + std::to_string((*metrics)->port()),
      {{"metrics_port", std::to_string((*metrics)->port())}});
  return Status::Ok();
}

}  // namespace mw
