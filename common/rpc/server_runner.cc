#include "common/rpc/server_runner.h"

#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
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

namespace {

Status CheckTls(const TlsFiles& tls) {
  if (tls.cert.empty() != tls.key.empty()) {
    return Status::InvalidArgument("--tls-cert and --tls-key go together; one was given alone");
  }
  if (!tls.client_ca.empty() && tls.cert.empty()) {
    return Status::InvalidArgument(
        "--tls-client-ca needs --tls-cert and --tls-key: mutual TLS is TLS first");
  }
  return Status::Ok();
}

}  // namespace

Status MakeAuthorizer(const ServerOptions& options, Authorizer* out) {
  return Authorizer::Create(options.auth, !options.tls.client_ca.empty(), out);
}

Status StartServer(const ServerOptions& options, const std::vector<grpc::Service*>& services,
                   std::unique_ptr<grpc::Server>* out, int* port) {
  MW_RETURN_IF_ERROR(CheckTls(options.tls));
  if (options.max_threads < 2 || options.max_streams_per_connection < 1) {
    return Status::InvalidArgument("--max-threads must be >= 2 and --max-streams >= 1");
  }
  grpc::EnableDefaultHealthCheckService(true);
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!options.tls.cert.empty()) {
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
  grpc::ResourceQuota quota("millionway-server");
  quota.SetMaxThreads(options.max_threads);
  builder.SetResourceQuota(quota);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, options.max_streams_per_connection);
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
  app.add_option("--max-threads", options->max_threads,
                 "calls (and open streams) served at once; beyond: RESOURCE_EXHAUSTED")
      ->envname("MW_MAX_THREADS");
  app.add_option("--max-streams", options->max_streams_per_connection,
                 "concurrent calls one connection may have open")
      ->envname("MW_MAX_STREAMS");
  AddAuthFlags(app, &options->auth);
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
