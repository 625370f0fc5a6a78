#include "common/metrics/metric_families.h"

namespace mw {

prometheus::MetricFamily ValueFamily(
    const std::string& name, const std::string& help, prometheus::MetricType type,
    const prometheus::Labels& constant,
    const std::vector<std::pair<prometheus::Labels, double>>& values) {
  prometheus::MetricFamily family{name, help, type, {}};
  for (const auto& [labels, value] : values) {
    prometheus::ClientMetric metric;
    prometheus::Labels all = constant;
    all.insert(labels.begin(), labels.end());
    for (const auto& [key, label] : all) metric.label.push_back({key, label});
    if (type == prometheus::MetricType::Counter) {
      metric.counter.value = value;
    } else {
      metric.gauge.value = value;
    }
    family.metric.push_back(std::move(metric));
  }
  return family;
}

}  // namespace mw
