// mw_shard_server: persists checkpoints of classifier shards and training state and serves
// them by row range (proto/millionway/v1/shard.proto). Every flag has an environment
// variable, for Kubernetes; logs go to stdout; SIGTERM finishes the calls in flight, then
// exits 0.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "common/rpc/server_runner.h"
#include "shard_server/shard_service.h"

int main(int argc, char** argv) {
  mw::ServerOptions options;
  std::string data_dir = "/var/lib/millionway/shards";
  CLI::App app{"millionway shard server"};
  mw::AddServerFlags(app, &options);
  app.add_option("--data-dir", data_dir, "where checkpoints live")->envname("MW_DATA_DIR");
  CLI11_PARSE(app, argc, argv);

  std::unique_ptr<mw::CheckpointStore> store;
  mw::Status s = mw::CheckpointStore::Open(data_dir, &store);
  if (!s.ok()) {
    std::printf("shard_server: %s\n", s.ToString().c_str());
    return 2;
  }
  mw::ShardServiceImpl service(store.get());
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  s = mw::StartServer(options, {&service}, &server, &port);
  if (!s.ok()) {
    std::printf("shard_server: %s\n", s.ToString().c_str());
    return 2;
  }
  std::printf("shard_server: serving %s on port %d%s\n", data_dir.c_str(), port,
              options.tls.cert.empty() ? "" : " (TLS)");
  std::fflush(stdout);
  const std::string signal = mw::ServeUntilSignal(server.get(), options);
  std::printf("shard_server: %s, stopped\n", signal.c_str());
  return 0;
}
