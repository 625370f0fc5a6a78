// FileByteSource: objects as files under a directory, e.g. a PersistentVolume.
#pragma once

#include "worker/data/shards/byte_source.h"

namespace mw {

class FileByteSource : public ByteSource {
 public:
  explicit FileByteSource(std::string dir) : dir_(std::move(dir)) {}

  Status Read(const std::string& name, uint64_t offset, uint64_t size,
              std::string* out) const override;
  Status ReadAll(const std::string& name, uint64_t max_bytes, std::string* out) const override;
  std::string Locate(const std::string& name) const override { return dir_ + "/" + name; }

 private:
  std::string dir_;
};

}  // namespace mw
