// What every millionway gRPC server does the same way: listen where told (TLS, and mutual
// TLS, when certificate files are given), register the standard health service
// (grpc.health.v1, open to all: kubelet probes carry no credentials; no server reflection,
// which would answer anyone: grpcurl takes the protos under proto/), bound message sizes,
// threads and streams, count
// calls by method and code on the process's metrics, and on SIGTERM or SIGINT report not
// ready, stop taking calls and finish the ones in flight within a grace period.
#pragma once

#include <grpcpp/server.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/rpc/authorization.h"
#include "common/status.h"

namespace grpc {
class Service;
}
namespace CLI {
class App;
}

namespace mw {

class MetricsServer;

struct TlsFiles {
  std::string cert;       // PEM certificate chain; empty: plaintext
  std::string key;        // PEM private key
  std::string client_ca;  // PEM CA bundle; given: clients must present a certificate it signed
};

struct ServerOptions {
  std::string listen = "127.0.0.1:0";  // port 0: any free port
  TlsFiles tls;
  int max_message_bytes = 8 << 20;
  std::string port_file;  // the bound port is written here once serving
  int grace_seconds = 20;
  MetricsServer* metrics = nullptr;  // given: gRPC call metrics, and readiness while serving
  AuthOptions auth;
  // Bounds on what callers can hold: beyond them a call gets RESOURCE_EXHAUSTED. Every open
  // server stream (a worker's task stream, a watch) holds one thread.
  int max_threads = 256;
  int max_streams_per_connection = 64;
};

// The authorizer these options describe (tokens from auth.token_dir, roles from client
// certificates when tls.client_ca is given).
Status MakeAuthorizer(const ServerOptions& options, Authorizer* out);

// The flags every server takes (--listen, --tls-*, --port-file, --grace-seconds, --auth-dir,
// --max-threads, ...), each with its MW_* environment variable.
void AddServerFlags(CLI::App& app, ServerOptions* options);

// Builds and starts the server; *port is the bound port, also written to the port file.
// INVALID_ARGUMENT, naming the flags, for TLS settings that would not do what they say.
Status StartServer(const ServerOptions& options, const std::vector<grpc::Service*>& services,
                   std::unique_ptr<grpc::Server>* out, int* port);

// Blocks until SIGTERM or SIGINT, then shuts `server` down, waiting up to the grace period
// for calls in flight. Returns the signal's name.
std::string ServeUntilSignal(grpc::Server* server, const ServerOptions& options);

// Reads a whole text file (certificates) for credentials; NOT_FOUND naming it.
Status ReadPem(const std::string& path, std::string* out);

}  // namespace mw
