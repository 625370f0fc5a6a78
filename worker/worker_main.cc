// mw_worker: a worker under a coordinator (see worker/agent/agent.h). Every flag has an
// environment variable, for Kubernetes; logs go to stdout (JSON); metrics and probes on
// --metrics-listen (ready while registered). SIGTERM or SIGINT: the task in
// hand is finished, the gang checkpoints where it stands (mid-epoch if need be), and the
// worker exits 0; its job restarts from that checkpoint without it.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <thread>

#include "common/log.h"
#include "common/metrics/observability.h"
#include "common/tensor_heap.h"
#include "worker/agent/agent.h"
#include "worker/agent/worker_metrics.h"
#include "worker/data/shards/object_store_flags.h"

int main(int argc, char** argv) {
  mw::KeepFreedTensorMemoryForReuse();
  mw::AgentOptions options;
  char host[256] = "worker";
  ::gethostname(host, sizeof(host) - 1);
  options.name = host;
  int timeout_s = 60, drain_timeout_s = 25, teardown_timeout_s = 60;
  mw::ObservabilityOptions observability;
  CLI::App app{"millionway worker"};
  mw::AddObservabilityFlags(app, &observability);
  app.add_option("--coordinator", options.coordinator, "coordinator address host:port")
      ->envname("MW_COORDINATOR");
  app.add_option("--name", options.name, "unique worker name (default: the host name)")
      ->envname("MW_WORKER_NAME");
  app.add_option("--rendezvous", options.rendezvous,
                 "host:port for the gang's rendezvous store when this worker is rank 0")
      ->envname("MW_RENDEZVOUS");
  app.add_option("--threads", options.threads, "intra-op threads")->envname("MW_THREADS");
  app.add_option("--gpu", options.gpu,
                 "the GPU ordinal a job with device: cuda runs on (one worker per GPU)")
      ->envname("MW_GPU")
      ->check(CLI::Range(0, 1023));
  app.add_option("--collective-timeout-s", timeout_s,
                 "a collective with a silent peer fails after this long")
      ->envname("MW_COLLECTIVE_TIMEOUT_S");
  mw::ClientFlags client_flags;
  mw::AddClientFlags(app, &options.connection, &client_flags);
  app.add_option("--drain-timeout-s", drain_timeout_s,
                 "after SIGTERM, how long to wait for the gang's last checkpoint")
      ->envname("MW_DRAIN_TIMEOUT_S");
  app.add_option("--teardown-timeout-s", teardown_timeout_s,
                 "leaving a gang that takes longer than this exits the worker (code 3) to be "
                 "restarted")
      ->envname("MW_TEARDOWN_TIMEOUT_S")
      ->check(CLI::Range(1, 24 * 3600));
  mw::ObjectStoreFlags object_store;
  mw::AddObjectStoreFlags(app, &object_store);
  CLI11_PARSE(app, argc, argv);
  for (const mw::Status& s : {mw::LoadToken(client_flags, &options.connection),
                              mw::ResolveObjectStoreFlags(&object_store)}) {
    if (!s.ok()) {
      std::fprintf(stderr, "worker: %s\n", s.ToString().c_str());
      return 2;
    }
  }
  options.object_store = object_store.options;
  options.collective_timeout = std::chrono::seconds(timeout_s);
  options.drain_timeout = std::chrono::seconds(drain_timeout_s);
  options.teardown_timeout = std::chrono::seconds(teardown_timeout_s);
  std::unique_ptr<mw::MetricsServer> metrics;
  const mw::Status started = mw::StartObservability("worker", observability, &metrics);
  if (!started.ok()) {
    std::fprintf(stderr, "worker: %s\n", started.ToString().c_str());
    return 2;
  }
  mw::WorkerMetrics worker_metrics(*metrics);
  options.metrics = &worker_metrics;

  std::atomic<bool> stop{false};
  boost::asio::io_context io;
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& error, int signal) {
    if (!error) {
      mw::Log(mw::LogLevel::kInfo,
              std::string(signal == SIGTERM ? "SIGTERM" : "SIGINT") +
                  ", leaving after the gang's checkpoint",
              {{"worker", options.name}});
      worker_metrics.SetReady(false);
      stop = true;
    }
  });
  std::thread signal_thread([&] { io.run(); });
  mw::Agent agent(options);
  const mw::Status status = agent.Run(&stop);
  io.stop();
  signal_thread.join();
  if (!status.ok()) {
    mw::Log(mw::LogLevel::kError, status.ToString(), {{"worker", options.name}});
    return 2;
  }
  mw::Log(mw::LogLevel::kInfo, "stopped", {{"worker", options.name}});
  return 0;
}
