#include "common/rpc/server_runner.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>

#include "common/durable_file.h"
#include "common/metrics/metrics_server.h"
#include "common/rpc/grpc_metrics.h"

namespace mw {

Status ReadPem(const std::string& path, std::string* out) {
  const Status s = ReadFile(path, out);
  if (!s.ok()) return Status::NotFound(path + ": cannot read the PEM file");
  return Status::Ok();
}

Status StartServer(const ServerOptions& options, const std::vector<grpc::Service*>& services,
                   std::unique_ptr<grpc::Server>* out, int* port) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!options.tls.cert.empty() || !options.tls.key.empty()) {
    grpc::SslServerCredentialsOptions ssl;
    grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
    MW_RETURN_IF_ERROR(ReadPem(options.tls.cert, &pair.cert_chain));
    MW_RETURN_IF_ERROR(ReadPem(options.tls.key, &pair.private_key));
    ssl.pem_key_cert_pairs.push_back(pair);
    if (!options.tls.client_ca.empty()) {
      MW_RETURN_IF_ERROR(ReadPem(options.tls.client_ca, &ssl.pem_root_certs));
      ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
    }
    credentials = grpc::SslServerCredentials(ssl);
  }
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, credentials, port);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  for (grpc::Service* service : services) builder.RegisterService(service);
  if (options.metrics != nullptr) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(GrpcMetricsInterceptor(options.metrics));
    builder.experimental().SetInterceptorCreators(std::move(creators));
  }
  *out = builder.BuildAndStart();
  if (*out == nullptr || *port == 0) {
    return Status::Unavailable("cannot listen on " + options.listen);
  }
  if (!options.port_file.empty()) {
    MW_RETURN_IF_ERROR(WriteFileAtomically(options.port_file, std::to_string(*port) + "\n"));
  }
  if (options.metrics != nullptr) options.metrics->SetReady(true);
  return Status::Ok();
}

void AddServerFlags(CLI::App& app, ServerOptions* options) {
  app.add_option("--listen", options->listen, "address:port to serve on (port 0: any free port)")
      ->envname("MW_LISTEN");
  app.add_option("--tls-cert", options->tls.cert, "PEM certificate chain (enables TLS)")
      ->envname("MW_TLS_CERT");
  app.add_option("--tls-key", options->tls.key, "PEM private key")->envname("MW_TLS_KEY");
  app.add_option("--tls-client-ca", options->tls.client_ca,
                 "PEM CA bundle; clients must present a certificate it signed (mutual TLS)")
      ->envname("MW_TLS_CLIENT_CA");
  app.add_option("--port-file", options->port_file, "write the bound port here once serving")
      ->envname("MW_PORT_FILE");
  app.add_option("--grace-seconds", options->grace_seconds,
                 "on SIGTERM, time allowed for calls in flight")
      ->envname("MW_GRACE_SECONDS");
}

std::string ServeUntilSignal(grpc::Server* server, const ServerOptions& options) {
  boost::asio::io_context io;
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  int received = 0;
  signals.async_wait([&](const boost::system::error_code&, int signal) { received = signal; });
  io.run();
  if (options.metrics != nullptr) options.metrics->SetReady(false);
  server->GetHealthCheckService()->SetServingStatus(false);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(options.grace_seconds));
  return received == SIGTERM ? "SIGTERM" : "SIGINT";
}

}  // namespace mw
