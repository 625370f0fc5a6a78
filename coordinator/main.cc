// mw_coordinator: the API (JobService), the workers' service (WorkerService), jobs in SQLite.
// Every flag has an environment variable, for Kubernetes; logs go to stdout; SIGTERM stops
// taking calls, lets the ones in flight finish, and exits 0 (running jobs resume when a
// coordinator starts again on the same database).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <sstream>

#include "common/rpc/server_runner.h"
#include "coordinator/job_service.h"
#include "coordinator/worker_service.h"

int main(int argc, char** argv) {
  mw::ServerOptions server;
  mw::CoordinatorOptions options;
  std::string shard_servers, token_file;
  int heartbeat_ms = 500, heartbeat_timeout_ms = 5000;
  CLI::App app{"millionway coordinator"};
  mw::AddServerFlags(app, &server);
  app.add_option("--database", options.database, "SQLite file of the jobs")->envname("MW_DATABASE");
  app.add_option("--shard-servers", shard_servers, "comma-separated shard server addresses")
      ->envname("MW_SHARD_SERVERS")
      ->required();
  app.add_option("--keep-checkpoints", options.keep_last_checkpoints,
                 "committed checkpoints kept per job")
      ->envname("MW_KEEP_CHECKPOINTS");
  app.add_option("--max-failures", options.max_failures,
                 "attempts without progress before a job is FAILED")
      ->envname("MW_MAX_FAILURES");
  app.add_option("--heartbeat-ms", heartbeat_ms, "how often workers heartbeat")
      ->envname("MW_HEARTBEAT_MS");
  app.add_option("--heartbeat-timeout-ms", heartbeat_timeout_ms,
                 "silence after which a worker counts as lost")
      ->envname("MW_HEARTBEAT_TIMEOUT_MS");
  app.add_option("--token-file", token_file, "bearer token JobService callers must present")
      ->envname("MW_TOKEN_FILE");
  app.add_option("--tls-ca", options.shard_tls.tls_ca,
                 "PEM CA of the shard servers (the coordinator presents --tls-cert to them)")
      ->envname("MW_TLS_CA");
  CLI11_PARSE(app, argc, argv);

  std::stringstream list(shard_servers);
  for (std::string address; std::getline(list, address, ',');) {
    if (!address.empty()) options.shard_servers.push_back(address);
  }
  options.shard_tls.tls_cert = options.shard_tls.tls_ca.empty() ? "" : server.tls.cert;
  options.shard_tls.tls_key = options.shard_tls.tls_ca.empty() ? "" : server.tls.key;
  options.heartbeat_interval = std::chrono::milliseconds(heartbeat_ms);
  options.heartbeat_timeout = std::chrono::milliseconds(heartbeat_timeout_ms);
  std::string token;
  if (!token_file.empty()) {
    const mw::Status read = mw::ReadPem(token_file, &token);
    if (!read.ok()) {
      std::printf("coordinator: %s\n", read.ToString().c_str());
      return 2;
    }
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  }
  std::unique_ptr<mw::Coordinator> coordinator;
  mw::Status s = mw::Coordinator::Create(options, &coordinator);
  if (!s.ok()) {
    std::printf("coordinator: %s\n", s.ToString().c_str());
    return 2;
  }
  mw::JobServiceImpl jobs(coordinator.get(), token);
  mw::WorkerServiceImpl workers(coordinator.get(), options.heartbeat_interval);
  std::unique_ptr<grpc::Server> grpc_server;
  int port = 0;
  s = mw::StartServer(server, {&jobs, &workers}, &grpc_server, &port);
  if (!s.ok()) {
    std::printf("coordinator: %s\n", s.ToString().c_str());
    return 2;
  }
  std::printf("coordinator: serving on port %d, database %s, %zu shard servers%s%s\n", port,
              options.database.c_str(), options.shard_servers.size(),
              server.tls.cert.empty() ? "" : ", TLS", token.empty() ? "" : ", token required");
  std::fflush(stdout);
  const std::string signal = mw::ServeUntilSignal(grpc_server.get(), server);
  std::printf("coordinator: %s, stopped\n", signal.c_str());
  return 0;
}
