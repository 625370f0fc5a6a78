// Client channels as every millionway client opens them: plaintext, or TLS trusting a given
// CA, with a client certificate for mutual TLS; and the bearer token callers of JobService
// present.
#pragma once

#include <grpcpp/channel.h>

#include <memory>
#include <string>

#include "common/status.h"

namespace mw {

struct ConnectionOptions {
  std::string address = "127.0.0.1:7070";
  std::string token;     // sent as "authorization: Bearer <token>" where the API wants it
  std::string tls_ca;    // PEM file: connect with TLS, trusting this CA
  std::string tls_cert;  // PEM files of a client certificate, for mutual TLS
  std::string tls_key;
};

Status OpenChannel(const ConnectionOptions& options, std::shared_ptr<grpc::Channel>* out);

}  // namespace mw
