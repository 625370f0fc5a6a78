// Metric families built at scrape time, for collectors that read a service's state when
// Prometheus asks instead of updating gauges as it changes.
#pragma once

#include <prometheus/labels.h>
#include <prometheus/metric_family.h>

#include <string>
#include <utility>
#include <vector>

namespace mw {

// One family of gauges or counters: a value per label set, each set extended by `constant`.
prometheus::MetricFamily ValueFamily(
    const std::string& name, const std::string& help, prometheus::MetricType type,
    const prometheus::Labels& constant,
    const std::vector<std::pair<prometheus::Labels, double>>& values);

}  // namespace mw
