// mw_shard_server: persists checkpoints of classifier shards and training state and serves
// them by row range (proto/millionway/v1/shard.proto). Every flag has an environment
// variable, for Kubernetes; logs go to stdout; SIGTERM finishes the calls in flight, then
// exits 0.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>

#include "common/rpc/server_runner.h"
#include "shard_server/shard_service.h"

int main(int argc, char** argv) {
  mw::ServerOptions options;
  std::string data_dir = "/var/lib/millionway/shards";
  std::string port_file;
  int grace_seconds = 20;
  CLI::App app{"millionway shard server"};
  app.add_option("--listen", options.listen, "address:port to serve on (port 0: any free port)")
      ->envname("MW_LISTEN");
  app.add_option("--data-dir", data_dir, "where checkpoints live")->envname("MW_DATA_DIR");
  app.add_option("--tls-cert", options.tls.cert, "PEM certificate chain (enables TLS)")
      ->envname("MW_TLS_CERT");
  app.add_option("--tls-key", options.tls.key, "PEM private key")->envname("MW_TLS_KEY");
  app.add_option("--tls-client-ca", options.tls.client_ca,
                 "PEM CA bundle; clients must present a certificate it signed (mutual TLS)")
      ->envname("MW_TLS_CLIENT_CA");
  app.add_option("--port-file", port_file, "write the bound port here once serving")
      ->envname("MW_PORT_FILE");
  app.add_option("--grace-seconds", grace_seconds, "on SIGTERM, time allowed for calls in flight")
      ->envname("MW_GRACE_SECONDS");
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
  if (!port_file.empty()) {
    std::ofstream(port_file + ".tmp") << port << "\n";
    std::rename((port_file + ".tmp").c_str(), port_file.c_str());
  }
  const std::string signal =
      mw::ServeUntilSignal(server.get(), std::chrono::seconds(grace_seconds));
  std::printf("shard_server: %s, stopped\n", signal.c_str());
  return 0;
}
