// ShardWriter: packs samples into WebDataset shards, their index and their manifest (see
// shard_manifest.h), with libarchive writing the tar members.
//
// Samples get ids in the order they are added; a shard is closed when the next sample would
// take it past shard_bytes. Members are ustar (512-byte header, data padded to 512 bytes),
// so a member's offset follows from the sizes before it. Every file is fsync'd, and
// manifest.json is written last and atomically: a set without one is unfinished, and
// nothing reads it.
#pragma once

#include <sys/types.h>
#include <cstdint>

#include <memory>
#include <string>
#include <vector>

#include "common/durable_file.h"
#include "common/status.h"
#include "worker/data/shards/shard_manifest.h"

struct archive;

namespace mw {

struct ShardWriterOptions {
  uint64_t shard_bytes = 1ull << 30;  // WebDataset's usual ~1 GB
  int channels = 3;
  int64_t labels = 0;  // 0: unlabelled
};

class ShardWriter {
 public:
  // `dir` is created if missing; FAILED_PRECONDITION if it already holds a manifest.
  static Status Create(const std::string& dir, const ShardWriterOptions& options,
                       std::unique_ptr<ShardWriter>* out);
  ~ShardWriter();

  // extension: jpg, jpeg or png. label -1 when unlabelled, else in [0, labels).
  Status Add(const std::string& image, const std::string& extension, int64_t label);
  Status Finish(ShardManifest* manifest = nullptr);

 private:
  ShardWriter(std::string dir, ShardWriterOptions options)
      : dir_(std::move(dir)), options_(options) {}
  Status OpenShard();
  Status CloseShard();
  Status AddMember(const std::string& name, const std::string& bytes);
  static ssize_t OnWrite(struct archive*, void* self, const void* data, size_t bytes);

  std::string dir_;
  ShardWriterOptions options_;
  ShardManifest manifest_;
  std::vector<SampleLocation> index_;
  struct archive* archive_ = nullptr;
  std::unique_ptr<WritableFile> file_;
  uint64_t position_ = 0;       // bytes of the open shard's members so far
  uint64_t written_ = 0;        // bytes libarchive handed over
  void* hash_state_ = nullptr;  // XXH3_state_t of the open shard
  Status write_error_;
};

}  // namespace mw
