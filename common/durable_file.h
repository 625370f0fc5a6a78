// Durable files: the few POSIX steps that make a write survive a crash at any instant, in
// one place. A file is written, fsync'd, then renamed over its final name, and the directory
// fsync'd so the rename itself is on disk (the manifest commit of torch.distributed.checkpoint
// and of LevelDB's CURRENT file work the same way).
#pragma once

#include <cstddef>
#include <string>

#include "common/status.h"

namespace mw {

// An open file being written; closes (without fsync) when destroyed.
class WritableFile {
 public:
  // Creates or truncates `path`.
  static Status Create(const std::string& path, WritableFile* out);
  WritableFile() = default;
  WritableFile(WritableFile&& other) noexcept;
  WritableFile& operator=(WritableFile&& other) noexcept;
  ~WritableFile();

  Status Append(const void* data, size_t bytes);
  // fsync, then close.
  Status SyncAndClose();

 private:
  std::string path_;
  int fd_ = -1;
};

Status SyncDirectory(const std::string& dir);

// Writes `contents` to path + ".tmp", fsyncs it, renames it to `path`, fsyncs the directory.
Status WriteFileAtomically(const std::string& path, const std::string& contents);

// The whole file, or bytes [offset, offset + length) of it.
Status ReadFile(const std::string& path, std::string* out);
Status ReadFileRange(const std::string& path, size_t offset, size_t length, std::string* out);

}  // namespace mw
