// Who may call what. Every call to a millionway gRPC service is made in one of three roles:
// a user (JobService; reading checkpoints for export), a worker (WorkerService; writing and
// reading checkpoint pieces) or the coordinator (committing and deleting checkpoints). A
// caller proves its role with the bearer token of that role ("authorization: Bearer <t>"), or,
// under mutual TLS, with a client certificate whose common name is "millionway-<role>".
//
// A server refuses to start with no way to authenticate anyone unless told
// --allow-unauthenticated (development on one machine), so a port reachable by strangers on
// a cluster never serves them by default.
#pragma once

#include <array>
#include <initializer_list>
#include <string>

#include "common/status.h"

namespace grpc {
class ServerContext;
class Status;
}  // namespace grpc
namespace CLI {
class App;
}

namespace mw {

enum class Role { kUser = 0, kWorker = 1, kCoordinator = 2 };
inline constexpr int kRoleCount = 3;
const char* RoleName(Role role);  // "user", "worker", "coordinator"

struct AuthOptions {
  // Holds <role>.token for each role this server admits by token (a Kubernetes Secret
  // mounted as a directory); a role without a file cannot authenticate by token.
  std::string token_dir;
  bool allow_unauthenticated = false;  // every caller has every role
};

// --auth-dir and --allow-unauthenticated, with MW_AUTH_DIR and MW_ALLOW_UNAUTHENTICATED.
void AddAuthFlags(CLI::App& app, AuthOptions* options);

// Reads a token file: surrounding whitespace dropped; empty or unreadable is an error naming
// the file.
Status ReadTokenFile(const std::string& path, std::string* token);

class Authorizer {
 public:
  // `mutual_tls`: the server verifies client certificates, so their names can carry roles.
  // INVALID_ARGUMENT when nothing would authenticate a caller and that is not allowed.
  static Status Create(const AuthOptions& options, bool mutual_tls, Authorizer* out);

  // OK when the caller proves one of the `allowed` roles. UNAUTHENTICATED when it proves
  // none (no credential, or a wrong one); PERMISSION_DENIED when it proves another role.
  grpc::Status Check(const grpc::ServerContext& context, std::initializer_list<Role> allowed) const;

  // "tokens(user,worker)+mtls", for the start-up log.
  std::string Describe() const;

 private:
  // The roles the caller proved, as a bit set over Role.
  unsigned ProvenRoles(const grpc::ServerContext& context, bool* presented) const;

  std::array<std::string, kRoleCount> tokens_;
  bool mutual_tls_ = false;
  bool open_ = false;
};

}  // namespace mw
