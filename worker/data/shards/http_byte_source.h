// HttpByteSource: objects under an http(s):// URL prefix, read with libcurl; with SigV4
// signing it is an S3 bucket (path-style, so MinIO, Ceph and s3rver serve it too).
//
// Each read is a Range request. A read that fails part-way (a dropped connection, a 5xx or
// 429, a stall past stall_timeout_s) is retried after a jittered exponential backoff from
// the first byte it does not have yet, so a flaky network costs time, never bytes read twice
// or a wrong sample. 4xx answers are not retried: they name the URL and the store's reason.
// Connections are pooled and kept alive across reads.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "worker/data/shards/byte_source.h"

namespace mw {

class HttpByteSource : public ByteSource {
 public:
  // base_url: no trailing slash. signing_region non-empty: sign requests for S3 in it.
  HttpByteSource(std::string base_url, ObjectStoreOptions options, bool sign_for_s3);
  ~HttpByteSource() override;

  Status Read(const std::string& name, uint64_t offset, uint64_t size,
              std::string* out) const override;
  Status ReadAll(const std::string& name, uint64_t max_bytes, std::string* out) const override;
  std::string Locate(const std::string& name) const override { return base_url_ + "/" + name; }

 private:
  // Bytes from `offset` on into *out: exactly `size` of them when `exact`, else up to the
  // object's end (at most `size`).
  Status Fetch(const std::string& url, uint64_t offset, uint64_t size, bool exact,
               std::string* out) const;
  void* AcquireHandle() const;
  void ReleaseHandle(void* handle) const;

  std::string base_url_;
  ObjectStoreOptions options_;
  bool sign_for_s3_;
  mutable std::mutex mu_;
  mutable std::vector<void*> idle_handles_;  // CURL*
};

}  // namespace mw
