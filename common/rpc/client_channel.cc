#include "common/rpc/client_channel.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/client_interceptor.h>

#include <CLI/CLI.hpp>

#include "common/rpc/authorization.h"
#include "common/rpc/server_runner.h"

namespace mw {

namespace {

// Adds the token to every call's initial metadata. An interceptor rather than call
// credentials: gRPC refuses call credentials on a plaintext channel, and loopback clusters
// (mwctl local) authenticate without TLS.
class BearerToken final : public grpc::experimental::Interceptor {
 public:
  explicit BearerToken(const std::string* header) : header_(header) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"authorization", *header_});
    }
    methods->Proceed();
  }

 private:
  const std::string* header_;
};

class BearerTokenFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerTokenFactory(const std::string& token) : header_("Bearer " + token) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new BearerToken(&header_);
  }

 private:
  const std::string header_;
};

}  // namespace

void AddClientFlags(CLI::App& app, ConnectionOptions* options, ClientFlags* flags) {
  app.add_option("--token-file", flags->token_file,
                 "file holding this client's bearer token (its role's)")
      ->envname("MW_TOKEN_FILE");
  app.add_option("--tls-ca", options->tls_ca, "PEM CA of the servers: connect with TLS")
      ->envname("MW_TLS_CA");
  app.add_option("--tls-cert", options->tls_cert, "PEM client certificate (mutual TLS)")
      ->envname("MW_TLS_CERT");
  app.add_option("--tls-key", options->tls_key, "PEM client key (mutual TLS)")
      ->envname("MW_TLS_KEY");
  app.add_flag("--allow-plaintext-token", options->allow_plaintext_token,
               "send the token without TLS to non-loopback servers (trusted networks only)")
      ->envname("MW_ALLOW_PLAINTEXT_TOKEN");
}

Status LoadToken(const ClientFlags& flags, ConnectionOptions* options) {
  if (flags.token_file.empty()) return Status::Ok();
  return ReadTokenFile(flags.token_file, &options->token);
}

bool IsLoopbackAddress(const std::string& address) {
  std::string host = address;
  for (const char* scheme : {"ipv4:", "ipv6:", "dns:"}) {
    if (host.rfind(scheme, 0) == 0) host = host.substr(std::string(scheme).size());
  }
  if (!host.empty() && host.front() == '[') {
    host = host.substr(1, host.find(']') - 1);  // [v6]:port
  } else if (host.find(':') == host.rfind(':') && host.find(':') != std::string::npos) {
    host = host.substr(0, host.find(':'));  // name:port or v4:port; bare v6 stays whole
  }
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

Status OpenChannel(const ConnectionOptions& options, std::shared_ptr<grpc::Channel>* out) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(8 << 20);
  // gRPC's reconnect backoff grows to 2 minutes: a server back after a long outage (a shard
  // server the reconciler waits for) would be ignored that long. 5 s is ample for peers that
  // are pods in one cluster.
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!options.tls_ca.empty()) {
    grpc::SslCredentialsOptions ssl;
    MW_RETURN_IF_ERROR(ReadPem(options.tls_ca, &ssl.pem_root_certs));
    if (!options.tls_cert.empty() || !options.tls_key.empty()) {
      MW_RETURN_IF_ERROR(ReadPem(options.tls_cert, &ssl.pem_cert_chain));
      MW_RETURN_IF_ERROR(ReadPem(options.tls_key, &ssl.pem_private_key));
    }
    credentials = grpc::SslCredentials(ssl);
  } else if (!options.tls_cert.empty() || !options.tls_key.empty()) {
    return Status::InvalidArgument(
        "a client certificate without --tls-ca: give the CA that signed the server's");
  }
  if (options.token.empty()) {
    *out = grpc::CreateCustomChannel(options.address, credentials, arguments);
    return Status::Ok();
  }
  if (options.tls_ca.empty() && !options.allow_plaintext_token &&
      !IsLoopbackAddress(options.address)) {
    return Status::FailedPrecondition(
        "refusing to send the bearer token to " + options.address +
        " in plaintext: give --tls-ca (MW_TLS_CA), or --allow-plaintext-token on a trusted "
        "network");
  }
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> creators;
  creators.push_back(std::make_unique<BearerTokenFactory>(options.token));
  *out = grpc::experimental::CreateCustomChannelWithInterceptors(options.address, credentials,
                                                                 arguments, std::move(creators));
  return Status::Ok();
}

}  // namespace mw
