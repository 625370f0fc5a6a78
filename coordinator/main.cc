// mw_coordinator: the API (JobService), the workers' service (WorkerService), jobs in SQLite.
// Every flag has an environment variable, for Kubernetes; logs go to stdout (JSON); metrics
// and probes on --metrics-listen; SIGTERM stops
// taking calls, lets the ones in flight finish, and exits 0 (running jobs resume when a
// coordinator starts again on the same database).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/log.h"
#include "common/metrics/observability.h"
#include "common/rpc/server_runner.h"
#include "coordinator/job_service.h"
#include "coordinator/worker_service.h"

int main(int argc, char** argv) {
  mw::ServerOptions server;
  mw::ObservabilityOptions observability;
  mw::CoordinatorOptions options;
  std::string shard_servers;
  int heartbeat_ms = 500, heartbeat_timeout_ms = 5000, task_timeout_s = 3600, commit_timeout_s = 30;
  CLI::App app{"millionway coordinator"};
  mw::AddServerFlags(app, &server);
  mw::AddObservabilityFlags(app, &observability);
  app.add_option("--database", options.database, "SQLite file of the jobs")->envname("MW_DATABASE");
  app.add_option("--shard-servers", shard_servers, "comma-separated shard server addresses")
      ->envname("MW_SHARD_SERVERS")
      ->required();
  app.add_option("--keep-checkpoints", options.keep_last_checkpoints,
                 "committed checkpoints kept per job (0: all); the one the job would restart "
                 "from is kept whatever this says")
      ->envname("MW_KEEP_CHECKPOINTS");
  app.add_option("--commit-timeout-s", commit_timeout_s,
                 "a shard server's checkpoint commit not answered within this is given up and "
                 "discarded")
      ->envname("MW_COMMIT_TIMEOUT_S")
      ->check(CLI::Range(1, 24 * 3600));
  app.add_option("--max-failures", options.max_failures,
                 "attempts without progress before a job is FAILED")
      ->envname("MW_MAX_FAILURES");
  app.add_option("--heartbeat-ms", heartbeat_ms, "how often workers heartbeat")
      ->envname("MW_HEARTBEAT_MS");
  app.add_option("--task-timeout-s", task_timeout_s,
                 "a task every rank has not reported within this stops the gang (a failure)")
      ->envname("MW_TASK_TIMEOUT_S")
      ->check(CLI::Range(1, 7 * 24 * 3600));
  app.add_option("--heartbeat-timeout-ms", heartbeat_timeout_ms,
                 "silence after which a worker counts as lost")
      ->envname("MW_HEARTBEAT_TIMEOUT_MS");
  app.add_option("--tls-ca", options.shard_connection.tls_ca,
                 "PEM CA of the shard servers (the coordinator presents --tls-cert to them)")
      ->envname("MW_TLS_CA");
  app.add_flag("--allow-plaintext-token", options.shard_connection.allow_plaintext_token,
               "send coordinator.token to non-loopback shard servers without TLS (trusted "
               "networks only)")
      ->envname("MW_ALLOW_PLAINTEXT_TOKEN");
  CLI11_PARSE(app, argc, argv);
  std::unique_ptr<mw::MetricsServer> metrics;
  mw::Status s = mw::StartObservability("coordinator", observability, &metrics);
  if (!s.ok()) {
    std::fprintf(stderr, "coordinator: %s\n", s.ToString().c_str());
    return 2;
  }
  mw::CoordinatorMetrics coordinator_metrics(*metrics);
  options.metrics = &coordinator_metrics;
  server.metrics = metrics.get();

  std::stringstream list(shard_servers);
  for (std::string address; std::getline(list, address, ',');) {
    if (!address.empty()) options.shard_servers.push_back(address);
  }
  options.shard_connection.tls_cert =
      options.shard_connection.tls_ca.empty() ? "" : server.tls.cert;
  options.shard_connection.tls_key = options.shard_connection.tls_ca.empty() ? "" : server.tls.key;
  options.heartbeat_interval = std::chrono::milliseconds(heartbeat_ms);
  options.heartbeat_timeout = std::chrono::milliseconds(heartbeat_timeout_ms);
  options.task_timeout = std::chrono::seconds(task_timeout_s);
  options.commit_timeout = std::chrono::seconds(commit_timeout_s);
  mw::Authorizer auth;
  s = mw::MakeAuthorizer(server, &auth);
  if (s.ok() && !server.auth.token_dir.empty()) {
    // What the coordinator presents to the shard servers, when tokens carry roles.
    const std::string own = server.auth.token_dir + "/coordinator.token";
    if (std::ifstream(own).good()) s = mw::ReadTokenFile(own, &options.shard_connection.token);
  }
  if (!s.ok()) {
    mw::Log(mw::LogLevel::kError, s.ToString());
    return 2;
  }
  std::unique_ptr<mw::Coordinator> coordinator;
  s = mw::Coordinator::Create(options, &coordinator);
  if (!s.ok()) {
    mw::Log(mw::LogLevel::kError, s.ToString());
    return 2;
  }
  coordinator_metrics.ReadFrom(*metrics, [raw = coordinator.get()] { return raw->Snapshot(); });
  // Scrapes read the coordinator: the metrics endpoint must stop before it is destroyed (the
  // registry itself outlives it, as the coordinator's counters live there).
  const std::shared_ptr<void> stop_metrics_first(nullptr, [&](void*) { metrics->Stop(); });
  mw::JobServiceImpl jobs(coordinator.get(), auth);
  mw::WorkerServiceImpl workers(coordinator.get(), options.heartbeat_interval, auth);
  std::unique_ptr<grpc::Server> grpc_server;
  int port = 0;
  s = mw::StartServer(server, {&jobs, &workers}, &grpc_server, &port);
  if (!s.ok()) {
    mw::Log(mw::LogLevel::kError, s.ToString());
    return 2;
  }
  mw::Log(mw::LogLevel::kInfo, "serving on port " + std::to_string(port),
          {{"port", std::to_string(port)},
           {"database", options.database},
           {"shard_servers", std::to_string(options.shard_servers.size())},
           {"tls", server.tls.cert.empty() ? "off" : "on"},
           {"auth", auth.Describe()}});
  const std::string signal = mw::ServeUntilSignal(grpc_server.get(), server);
  mw::Log(mw::LogLevel::kInfo, signal + ", stopped");
  return 0;
}
