#include "common/rpc/authorization.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_context.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <CLI/CLI.hpp>
#include <cctype>

#include "common/durable_file.h"

namespace mw {

namespace {

constexpr const char* kRoleNames[kRoleCount] = {"user", "worker", "coordinator"};
constexpr const char* kCertificatePrefix = "millionway-";

// Equal strings compare in time that depends on the length only, so a token does not leak
// through timing.
bool ConstantTimeEqual(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

}  // namespace

const char* RoleName(Role role) { return kRoleNames[static_cast<int>(role)]; }

void AddAuthFlags(CLI::App& app, AuthOptions* options) {
  app.add_option("--auth-dir", options->token_dir,
                 "directory of <role>.token files (user, worker, coordinator): the bearer tokens "
                 "this server admits")
      ->envname("MW_AUTH_DIR");
  app.add_flag("--allow-unauthenticated", options->allow_unauthenticated,
               "serve callers without credentials (development only)")
      ->envname("MW_ALLOW_UNAUTHENTICATED");
}

Status ReadTokenFile(const std::string& path, std::string* token) {
  std::string text;
  if (!ReadFile(path, &text).ok()) return Status::NotFound(path + ": cannot read the token file");
  size_t begin = 0, end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  if (begin == end) return Status::InvalidArgument(path + ": the token file is empty");
  *token = text.substr(begin, end - begin);
  return Status::Ok();
}

Status Authorizer::Create(const AuthOptions& options, bool mutual_tls, Authorizer* out) {
  Authorizer authorizer;
  authorizer.mutual_tls_ = mutual_tls;
  authorizer.open_ = options.allow_unauthenticated;
  bool any_token = false;
  if (!options.token_dir.empty()) {
    for (int r = 0; r < kRoleCount; ++r) {
      const std::string path = options.token_dir + "/" + kRoleNames[r] + ".token";
      std::string ignored;
      if (!ReadFile(path, &ignored).ok()) continue;  // that role is not admitted by token
      MW_RETURN_IF_ERROR(ReadTokenFile(path, &authorizer.tokens_[static_cast<size_t>(r)]));
      any_token = true;
    }
    if (!any_token) {
      return Status::InvalidArgument("--auth-dir " + options.token_dir +
                                     ": no user.token, worker.token or coordinator.token in it");
    }
  }
  if (!any_token && !mutual_tls && !authorizer.open_) {
    return Status::InvalidArgument(
        "no way to authenticate callers: give --auth-dir (role tokens) or --tls-client-ca "
        "(certificates named millionway-<role>), or --allow-unauthenticated for development");
  }
  *out = std::move(authorizer);
  return Status::Ok();
}

unsigned Authorizer::ProvenRoles(const grpc::ServerContext& context, bool* presented) const {
  unsigned roles = 0;
  *presented = false;
  const auto& metadata = context.client_metadata();
  const auto header = metadata.find("authorization");
  if (header != metadata.end()) {
    *presented = true;
    const std::string given(header->second.data(), header->second.size());
    for (int r = 0; r < kRoleCount; ++r) {
      const std::string& token = tokens_[static_cast<size_t>(r)];
      if (!token.empty() && ConstantTimeEqual(given, "Bearer " + token)) roles |= 1u << r;
    }
  }
  if (mutual_tls_) {
    const auto auth = context.auth_context();
    if (auth != nullptr && auth->IsPeerAuthenticated()) {
      for (const auto& name : auth->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME)) {
        *presented = true;
        const std::string common_name(name.data(), name.size());
        for (int r = 0; r < kRoleCount; ++r) {
          if (common_name == std::string(kCertificatePrefix) + kRoleNames[r]) roles |= 1u << r;
        }
      }
    }
  }
  return roles;
}

grpc::Status Authorizer::Check(const grpc::ServerContext& context,
                               std::initializer_list<Role> allowed) const {
  if (open_) return grpc::Status::OK;
  bool presented = false;
  const unsigned proven = ProvenRoles(context, &presented);
  std::string wanted;
  for (const Role role : allowed) {
    if (proven & (1u << static_cast<int>(role))) return grpc::Status::OK;
    wanted += (wanted.empty() ? "" : " or ") + std::string(RoleName(role));
  }
  if (proven != 0) {
    return {grpc::StatusCode::PERMISSION_DENIED, "this call is for the " + wanted + " role"};
  }
  return {grpc::StatusCode::UNAUTHENTICATED,
          presented ? "credentials not recognised" : "missing authorization: Bearer <token>"};
}

std::string Authorizer::Describe() const {
  if (open_) return "unauthenticated";
  std::string roles;
  for (int r = 0; r < kRoleCount; ++r) {
    if (!tokens_[static_cast<size_t>(r)].empty()) {
      roles += (roles.empty() ? "" : ",") + std::string(kRoleNames[r]);
    }
  }
  std::string out = roles.empty() ? "" : "tokens(" + roles + ")";
  if (mutual_tls_) out += out.empty() ? "mtls" : "+mtls";
  return out;
}

}  // namespace mw
