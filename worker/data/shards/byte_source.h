// ByteSource: ranged reads of the named objects under one location: a directory (a volume),
// an http(s):// URL prefix, or an s3:// bucket and prefix. Reads are safe from many threads
// at once. Errors name the object (path or URL) and what went wrong: NOT_FOUND, a
// PERMISSION_DENIED from the store, DATA_LOSS for an object shorter than the range asked
// for, UNAVAILABLE once the retries of a flaky connection are spent.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace mw {

// How to reach object storage. Secrets never travel in a job spec (it is stored and shown
// to users): a worker reads them from its environment or from files a Kubernetes Secret
// mounts.
struct ObjectStoreOptions {
  std::string s3_endpoint;  // e.g. https://s3.us-east-1.amazonaws.com or http://minio:9000
  std::string s3_region = "us-east-1";
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // temporary credentials (STS); empty otherwise
  double connect_timeout_s = 10;
  // A read that moves no byte for this long is abandoned and retried from where it stopped.
  double stall_timeout_s = 30;
  int max_attempts = 8;
  double first_backoff_s = 0.05;  // doubled at each retry, up to max_backoff_s, jittered
  double max_backoff_s = 5;

  // Fills the credentials from `dir`/access_key_id and `dir`/secret_access_key (and an
  // optional session_token) when dir is set, else from AWS_ACCESS_KEY_ID,
  // AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
  Status LoadCredentials(const std::string& dir);
};

class ByteSource {
 public:
  virtual ~ByteSource() = default;

  // Bytes [offset, offset + size) of object `name` into *out (replacing its contents).
  virtual Status Read(const std::string& name, uint64_t offset, uint64_t size,
                      std::string* out) const = 0;
  // The whole of object `name`; RESOURCE_EXHAUSTED past max_bytes.
  virtual Status ReadAll(const std::string& name, uint64_t max_bytes, std::string* out) const = 0;
  // Where `name` is, for messages.
  virtual std::string Locate(const std::string& name) const = 0;
};

// `location`: a directory path (or file://path), http(s)://host/prefix, or s3://bucket/prefix
// (with options.s3_endpoint). INVALID_ARGUMENT for anything else.
Status OpenByteSource(const std::string& location, const ObjectStoreOptions& options,
                      std::unique_ptr<ByteSource>* out);

}  // namespace mw
