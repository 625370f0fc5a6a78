// /healthz latency of a process's metrics endpoint with 100 idle connections (and one
// half-sent request) held open on it, against the same endpoint unloaded, side by side in one
// process: the ratio says what parked clients cost a kubelet probe.
// Usage: metrics_endpoint [--requests N] [--idle N]
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "common/metrics/metrics_server.h"
#include "tests/support/loopback_client.h"

namespace {

// Seconds for one GET /healthz answered 200, or -1.
double Probe(int port) {
  const auto start = std::chrono::steady_clock::now();
  const std::string answer =
      mw::Exchange(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", std::chrono::seconds(10));
  if (answer.find("200 OK") == std::string::npos) return -1;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct Figures {
  double p50 = 0, p99 = 0;
  int failed = 0;
};

Figures Measure(int port, int requests) {
  std::vector<double> seconds;
  Figures f;
  for (int i = 0; i < requests; ++i) {
    const double s = Probe(port);
    if (s < 0) {
      ++f.failed;
    } else {
      seconds.push_back(s);
    }
  }
  std::sort(seconds.begin(), seconds.end());
  if (!seconds.empty()) {
    f.p50 = seconds[seconds.size() / 2];
    f.p99 = seconds[std::min(seconds.size() - 1, seconds.size() * 99 / 100)];
  }
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  int requests = 2000, idle = 100;
  CLI::App app{"/healthz latency with idle connections held open, against unloaded"};
  app.add_option("--requests", requests, "probes per measurement");
  app.add_option("--idle", idle, "idle connections held open");
  CLI11_PARSE(app, argc, argv);
  std::unique_ptr<mw::MetricsServer> server;
  if (!mw::MetricsServer::Start({}, "bench", &server).ok()) return 2;
  const int port = server->port();
  Measure(port, 100);  // warm-up
  const Figures unloaded = Measure(port, requests);
  std::vector<int> parked;
  for (int i = 0; i < idle; ++i) parked.push_back(mw::Connect(port));
  const int slow = mw::Connect(port);
  ::send(slow, "GET /metr", 9, MSG_NOSIGNAL);
  const Figures loaded = Measure(port, requests);
  for (const int fd : parked) ::close(fd);
  ::close(slow);
  std::printf("%-28s %10s %10s %8s\n", "endpoint", "p50 ms", "p99 ms", "failed");
  std::printf("%-28s %10.3f %10.3f %8d\n", "unloaded", unloaded.p50 * 1e3, unloaded.p99 * 1e3,
              unloaded.failed);
  std::printf("%-28s %10.3f %10.3f %8d\n", (std::to_string(idle) + " idle + 1 half-sent").c_str(),
              loaded.p50 * 1e3, loaded.p99 * 1e3, loaded.failed);
  std::printf("ratio p50 loaded/unloaded: %.2f\n", loaded.p50 / unloaded.p50);
  return loaded.failed == 0 ? 0 : 1;
}
