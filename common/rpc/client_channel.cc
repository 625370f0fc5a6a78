#include "common/rpc/client_channel.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "common/rpc/server_runner.h"

namespace mw {

Status OpenChannel(const ConnectionOptions& options, std::shared_ptr<grpc::Channel>* out) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(8 << 20);
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!options.tls_ca.empty()) {
    grpc::SslCredentialsOptions ssl;
    MW_RETURN_IF_ERROR(ReadPem(options.tls_ca, &ssl.pem_root_certs));
    if (!options.tls_cert.empty()) {
      MW_RETURN_IF_ERROR(ReadPem(options.tls_cert, &ssl.pem_cert_chain));
      MW_RETURN_IF_ERROR(ReadPem(options.tls_key, &ssl.pem_private_key));
    }
    credentials = grpc::SslCredentials(ssl);
  }
  *out = grpc::CreateCustomChannel(options.address, credentials, arguments);
  return Status::Ok();
}

}  // namespace mw
