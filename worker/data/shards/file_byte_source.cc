#include "worker/data/shards/file_byte_source.h"

#include <filesystem>

#include "common/durable_file.h"

namespace mw {

Status FileByteSource::Read(const std::string& name, uint64_t offset, uint64_t size,
                            std::string* out) const {
  const std::string path = Locate(name);
  // A large size may come from a hostile manifest: the file must hold it before it is
  // allocated. (Samples are small; their reads skip the extra system call.)
  if (size > (64ull << 20)) {
    std::error_code error;
    const uint64_t file_size = std::filesystem::file_size(path, error);
    if (error) return Status::NotFound(path + ": " + error.message());
    if (offset > file_size || size > file_size - offset) {
      return Status::DataLoss(path + ": file ends at byte " + std::to_string(file_size) +
                              ", expected " + std::to_string(offset + size));
    }
  }
  return ReadFileRange(path, offset, size, out);
}

Status FileByteSource::ReadAll(const std::string& name, uint64_t max_bytes,
                               std::string* out) const {
  const std::string path = Locate(name);
  std::error_code error;
  const uint64_t size = std::filesystem::file_size(path, error);
  if (error) return Status::NotFound(path + ": " + error.message());
  if (size > max_bytes) {
    return Status::ResourceExhausted(path + ": " + std::to_string(size) + " bytes, more than the " +
                                     std::to_string(max_bytes) + " allowed");
  }
  return ReadFileRange(path, 0, size, out);
}

}  // namespace mw
