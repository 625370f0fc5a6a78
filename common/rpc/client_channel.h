// Client channels as every millionway client opens them: plaintext, or TLS trusting a given
// CA, with a client certificate for mutual TLS; every call on the channel carries the bearer
// token of the caller's role (see authorization.h).
#pragma once

#include <grpcpp/channel.h>

#include <memory>
#include <string>

#include "common/status.h"

namespace CLI {
class App;
}

namespace mw {

struct ConnectionOptions {
  std::string address = "127.0.0.1:7070";
  std::string token;     // sent as "authorization: Bearer <token>" on every call
  std::string tls_ca;    // PEM file: connect with TLS, trusting this CA
  std::string tls_cert;  // PEM files of a client certificate, for mutual TLS
  std::string tls_key;
  // A token goes over plaintext only to a loopback address, unless this says otherwise.
  bool allow_plaintext_token = false;
};

// A client's credential flags, each with its MW_* variable: --token-file, --tls-ca,
// --tls-cert, --tls-key, --allow-plaintext-token. After parsing, LoadToken reads the file.
struct ClientFlags {
  std::string token_file;
};
void AddClientFlags(CLI::App& app, ConnectionOptions* options, ClientFlags* flags);
Status LoadToken(const ClientFlags& flags, ConnectionOptions* options);

// FAILED_PRECONDITION when a token would cross the network in plaintext.
Status OpenChannel(const ConnectionOptions& options, std::shared_ptr<grpc::Channel>* out);

// True for 127.0.0.0/8, ::1 and localhost (with a port or not).
bool IsLoopbackAddress(const std::string& address);

}  // namespace mw
