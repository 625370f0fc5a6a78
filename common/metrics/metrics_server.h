// MetricsServer: a process's HTTP endpoint for Prometheus and Kubernetes: /metrics serves the
// process's prometheus-cpp registry, its collectors and its resource usage in the text
// format;
// /healthz answers 200 while the process serves at all (a liveness probe); /readyz answers
// 200 while the service says it is ready and 503 otherwise (a readiness probe: not yet
// serving, or draining after SIGTERM).
//
// Every family a service registers carries the constant label role (coordinator, worker,
// shard_server), so one query tells the three apart whatever the scrape configuration.
#pragma once

#include <prometheus/labels.h>
#include <prometheus/registry.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"

namespace CLI {
class App;
}

namespace mw {

struct MetricsOptions {
  std::string listen = "127.0.0.1:0";  // host:port; port 0 picks a free one
  std::string port_file;               // the bound port is written here
};

// --metrics-listen and --metrics-port-file, with MW_METRICS_* environment variables.
void AddMetricsFlags(CLI::App& app, MetricsOptions* options);

class MetricsServer {
 public:
  static Status Start(const MetricsOptions& options, const std::string& role,
                      std::unique_ptr<MetricsServer>* out);
  ~MetricsServer();

  prometheus::Registry& registry() { return *registry_; }
  // {"role": role}: the constant labels of every family.
  const prometheus::Labels& labels() const { return labels_; }
  int port() const { return port_; }
  void SetReady(bool ready) { ready_.store(ready); }
  // A collector read at every scrape of /metrics, besides the registry.
  void AddCollectable(std::shared_ptr<prometheus::Collectable> collectable);

  // What /metrics answers.
  std::string Scrape();

  // Stops answering HTTP (the registry stays): for collectors that read objects about to go.
  void Stop();

 private:
  class Endpoint;
  MetricsServer();

  prometheus::Labels labels_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::mutex collectables_mutex_;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
  std::atomic<bool> ready_{false};
  std::unique_ptr<Endpoint> endpoint_;
  int port_ = 0;
};

// Registers a family built by `builder` (prometheus::BuildCounter() and the like) under `name`
// with the server's constant labels.
template <typename Builder>
auto& RegisterFamily(Builder builder, MetricsServer& server, const char* name, const char* help) {
  return builder.Name(name).Help(help).Labels(server.labels()).Register(server.registry());
}

}  // namespace mw
