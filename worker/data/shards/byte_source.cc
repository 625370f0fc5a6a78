#include "worker/data/shards/byte_source.h"

#include <cstdlib>
#include <filesystem>

#include "common/durable_file.h"
#include "worker/data/shards/file_byte_source.h"
#include "worker/data/shards/http_byte_source.h"

namespace mw {

namespace {

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

std::string WithoutTrailingSlashes(std::string s) {
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

// Keys and prefixes go into URLs unescaped, so only characters that need no escaping pass.
bool IsPlainUrlPath(const std::string& s) {
  return s.find_first_not_of(
             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
             "-._~/:@%+=,") == std::string::npos;
}

Status ReadSecretFile(const std::string& path, bool required, std::string* out) {
  std::string text;
  const Status read = ReadFile(path, &text);
  if (!read.ok()) return required ? read : Status::Ok();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  *out = text;
  return Status::Ok();
}

}  // namespace

Status ObjectStoreOptions::LoadCredentials(const std::string& dir) {
  if (!dir.empty()) {
    MW_RETURN_IF_ERROR(ReadSecretFile(dir + "/access_key_id", true, &access_key_id));
    MW_RETURN_IF_ERROR(ReadSecretFile(dir + "/secret_access_key", true, &secret_access_key));
    return ReadSecretFile(dir + "/session_token", false, &session_token);
  }
  for (const auto& [name, field] :
       {std::pair<const char*, std::string*>{"AWS_ACCESS_KEY_ID", &access_key_id},
        {"AWS_SECRET_ACCESS_KEY", &secret_access_key},
        {"AWS_SESSION_TOKEN", &session_token}}) {
    if (const char* value = std::getenv(name)) *field = value;
  }
  return Status::Ok();
}

Status OpenByteSource(const std::string& location, const ObjectStoreOptions& options,
                      std::unique_ptr<ByteSource>* out) {
  if (StartsWith(location, "http://") || StartsWith(location, "https://")) {
    if (!IsPlainUrlPath(location)) {
      return Status::InvalidArgument(location + ": has characters a URL would need escaped");
    }
    *out = std::make_unique<HttpByteSource>(WithoutTrailingSlashes(location), options, false);
    return Status::Ok();
  }
  if (StartsWith(location, "s3://")) {
    const std::string path = WithoutTrailingSlashes(location.substr(5));
    // Keys are signed as they are written; S3 signs them percent-encoded, so only
    // characters encoding leaves alone may appear.
    if (path.empty() || path[0] == '/' ||
        path.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                               "-._~/") != std::string::npos) {
      return Status::InvalidArgument(location +
                                     ": not s3://bucket/prefix of letters, digits and -._~/");
    }
    if (options.s3_endpoint.empty()) {
      return Status::InvalidArgument(location +
                                     ": no S3 endpoint (--s3-endpoint or MW_S3_ENDPOINT)");
    }
    if (options.access_key_id.empty() || options.secret_access_key.empty()) {
      return Status::InvalidArgument(location +
                                     ": no S3 credentials (--s3-credentials-dir, or "
                                     "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
    }
    *out = std::make_unique<HttpByteSource>(
        WithoutTrailingSlashes(options.s3_endpoint) + "/" + path, options, true);
    return Status::Ok();
  }
  std::string dir = StartsWith(location, "file://") ? location.substr(7) : location;
  if (dir.find("://") != std::string::npos) {
    return Status::InvalidArgument(location + ": not a directory, http(s):// or s3:// location");
  }
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) {
    return Status::NotFound(dir + ": not a directory");
  }
  *out = std::make_unique<FileByteSource>(WithoutTrailingSlashes(dir));
  return Status::Ok();
}

}  // namespace mw
