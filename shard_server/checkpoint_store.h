// CheckpointStore: a shard server's checkpoints on its local disk.
//
//   <root>/<job_id>/<checkpoint, 20 digits>/<piece files> + MANIFEST
//
// Pieces stream into files that are fsync'd when complete. Commit checks that every piece
// the caller names is there with the declared size and checksum, then writes the manifest
// atomically (temporary file, fsync, rename, directory fsync): a checkpoint directory
// without a valid MANIFEST is not a checkpoint, whatever else it holds, and is never read.
// Every read verifies the checksums of the blocks it touches, so a piece corrupted after
// commit is reported (DATA_LOSS) instead of served. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/durable_file.h"
#include "common/status.h"
#include "shard_server/manifest.h"

namespace mw {

// What one store accepts, so that a writer cannot fill the disk: a piece larger than
// max_piece_bytes, or a write that would leave less than min_free_bytes free on the store's
// filesystem, is RESOURCE_EXHAUSTED and the piece is dropped (a checkpoint missing a piece
// never commits, so nothing torn is listed).
struct StoreLimits {
  uint64_t max_piece_bytes = uint64_t{64} << 30;  // 14.2M x 128 x 4 B over one server: 7.3 GB
  uint64_t min_free_bytes = uint64_t{1} << 30;
};

class CheckpointStore {
 public:
  // Creates root if needed.
  static Status Open(const std::string& root, std::unique_ptr<CheckpointStore>* out,
                     StoreLimits limits = StoreLimits());

  // Receives one piece's bytes in order. Finish() fsyncs the file and describes it; a writer
  // destroyed before Finish() removes its partial file.
  class PieceWriter {
   public:
    ~PieceWriter();
    Status Append(const void* data, size_t bytes);
    Status Finish(PieceRecord* out);

   private:
    friend class CheckpointStore;
    PieceRecord record_;
    std::string path_;
    WritableFile file_;
    std::string block_;  // the current partial block, for its checksum
    uint64_t bytes_ = 0;
    uint64_t checked_free_at_ = 0;  // bytes_ when free space was last checked
    StoreLimits limits_;
    bool finished_ = false;
  };

  // The header (tensor, kind, rows) is validated here; bytes and checksums are filled in as
  // the piece is written.
  Status StartPiece(const std::string& job_id, uint64_t checkpoint, const PieceRecord& header,
                    std::unique_ptr<PieceWriter>* out);

  // `expected`: every piece of this server's part of the checkpoint with bytes and checksum
  // as the writer saw them. keep_last > 0 deletes older committed checkpoints beyond it.
  Status Commit(const std::string& job_id, uint64_t checkpoint,
                const std::vector<PieceRecord>& expected, uint32_t keep_last, Manifest* out);

  // Committed checkpoints, oldest first (their manifests verified).
  Status List(const std::string& job_id, std::vector<Manifest>* out);

  using Sink = std::function<Status(uint64_t row_begin, const char* data, size_t bytes)>;
  // Rows [row_begin, row_end) of `tensor`, across piece boundaries, in order and in chunks of
  // at most ~1 MiB; OUT_OF_RANGE when this server's pieces do not cover the range.
  Status ReadRows(const std::string& job_id, uint64_t checkpoint, const std::string& tensor,
                  uint64_t row_begin, uint64_t row_end, const Sink& sink);
  Status ReadBlob(const std::string& job_id, uint64_t checkpoint, const std::string& tensor,
                  const Sink& sink);

  Status Delete(const std::string& job_id, uint64_t checkpoint);

 private:
  CheckpointStore(std::string root, StoreLimits limits) : root_(std::move(root)), limits_(limits) {}
  std::string CheckpointDir(const std::string& job_id, uint64_t checkpoint) const;
  Status LoadManifest(const std::string& job_id, uint64_t checkpoint, Manifest* out) const;
  // Reads bytes [offset, offset + length) of a piece, verifying every block it touches.
  Status ReadVerified(const std::string& dir, const PieceRecord& piece, uint64_t offset,
                      uint64_t length, std::string* out) const;

  std::string root_;
  StoreLimits limits_;
  std::mutex commit_mutex_;  // commits, deletes and retention of one store, one at a time
};

}  // namespace mw
