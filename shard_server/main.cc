// mw_shard_server: persists checkpoints of classifier shards and training state and serves
// them by row range (proto/millionway/v1/shard.proto). Every flag has an environment
// variable, for Kubernetes; logs go to stdout (JSON); metrics and probes on
// --metrics-listen; SIGTERM finishes the calls in flight, then exits 0.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "common/log.h"
#include "common/metrics/observability.h"
#include "common/rpc/server_runner.h"
#include "shard_server/shard_service.h"

int main(int argc, char** argv) {
  mw::ServerOptions options;
  mw::ObservabilityOptions observability;
  std::string data_dir = "/var/lib/millionway/shards";
  CLI::App app{"millionway shard server"};
  mw::AddServerFlags(app, &options);
  mw::AddObservabilityFlags(app, &observability);
  app.add_option("--data-dir", data_dir, "where checkpoints live")->envname("MW_DATA_DIR");
  mw::StoreLimits limits;
  app.add_option("--max-piece-bytes", limits.max_piece_bytes, "largest piece accepted")
      ->envname("MW_MAX_PIECE_BYTES");
  app.add_option("--min-free-bytes", limits.min_free_bytes,
                 "writes that would leave less free on the data volume are refused")
      ->envname("MW_MIN_FREE_BYTES");
  CLI11_PARSE(app, argc, argv);

  std::unique_ptr<mw::MetricsServer> metrics;
  mw::Status s = mw::StartObservability("shard_server", observability, &metrics);
  if (!s.ok()) {
    std::fprintf(stderr, "shard_server: %s\n", s.ToString().c_str());
    return 2;
  }
  std::unique_ptr<mw::CheckpointStore> store;
  s = mw::CheckpointStore::Open(data_dir, &store, limits);
  if (!s.ok()) {
    mw::Log(mw::LogLevel::kError, s.ToString());
    return 2;
  }
  mw::Authorizer auth;
  s = mw::MakeAuthorizer(options, &auth);
  if (!s.ok()) {
    mw::Log(mw::LogLevel::kError, s.ToString());
    return 2;
  }
  mw::ShardMetrics shard_metrics(*metrics);
  mw::ShardServiceImpl service(store.get(), &shard_metrics, auth);
  options.metrics = metrics.get();
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  s = mw::StartServer(options, {&service}, &server, &port);
  if (!s.ok()) {
    mw::Log(mw::LogLevel::kError, s.ToString());
    return 2;
  }
  mw::Log(mw::LogLevel::kInfo, "serving " + data_dir + " on port " + std::to_string(port),
          {{"port", std::to_string(port)},
           {"tls", options.tls.cert.empty() ? "off" : "on"},
           {"auth", auth.Describe()}});
  const std::string signal = mw::ServeUntilSignal(server.get(), options);
  mw::Log(mw::LogLevel::kInfo, signal + ", stopped");
  return 0;
}
