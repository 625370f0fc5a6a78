// CheckpointStore: a shard server's checkpoints on its local disk.
//
//   <root>/<job_id>/FENCE                           the oldest gang attempt still admitted
//   <root>/<job_id>/<checkpoint, 20 digits>/<piece files, .sum records> + MANIFEST
//
// Pieces stream into files named by the gang attempt that writes them, so a gang that was
// given up on cannot write over its successor's pieces. A piece's checksums are computed from
// the bytes as they arrive; when the piece is complete its file is fsync'd and a record of
// those checksums (<piece>.sum) written atomically beside it. Commit checks every piece the
// caller names against its record, then writes the manifest atomically (temporary file,
// fsync, rename, directory fsync): a checkpoint directory without a valid MANIFEST is not a
// checkpoint, whatever else it holds, and is never read. Every read verifies the checksums of
// the blocks it touches, so a piece corrupted after commit is reported (DATA_LOSS) instead of
// served.
//
// Fencing: once the coordinator has fenced a job at attempt A (before a new gang starts), no
// piece or commit of an older attempt is accepted, and a commit still in flight from one is
// refused at its last step. Commits, fences, lists and deletes of a store are serialised, so a
// list never misses a commit that is half done. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/durable_file.h"
#include "common/status.h"
#include "shard_server/manifest.h"

typedef struct XXH3_state_s XXH3_state_t;

namespace mw {

// What one store accepts, so that a writer cannot fill the disk: a piece larger than
// max_piece_bytes, or a write that would leave less than min_free_bytes free on the store's
// filesystem, is RESOURCE_EXHAUSTED and the piece is dropped (a checkpoint missing a piece
// never commits, so nothing torn is listed).
struct StoreLimits {
  uint64_t max_piece_bytes = uint64_t{64} << 30;  // 14.2M x 128 x 4 B over one server: 7.3 GB
  uint64_t min_free_bytes = uint64_t{1} << 30;
};

// What a commit may prune of a job's older checkpoints: those beyond the newest keep_last
// (0: keep all), and of those only the ones numbered below `recorded`, the job's commit point
// in the coordinator's database. The recorded checkpoint is what a restart loads until the
// new one is recorded too, so no setting of keep_last can remove it.
struct Retention {
  uint32_t keep_last = 0;
  uint64_t recorded = 0;
};

class CheckpointStore {
 public:
  // Creates root if needed.
  static Status Open(const std::string& root, std::unique_ptr<CheckpointStore>* out,
                     StoreLimits limits = StoreLimits());

  // Receives one piece's bytes in order. Finish() fsyncs the file and records its checksums; a
  // writer destroyed before Finish() removes its partial file.
  class PieceWriter {
   public:
    ~PieceWriter();
    Status Append(const void* data, size_t bytes);
    Status Finish(PieceRecord* out);

   private:
    friend class CheckpointStore;
    PieceWriter();
    PieceRecord record_;
    std::string job_id_;
    uint64_t checkpoint_ = 0;
    std::string path_;
    WritableFile file_;
    std::unique_ptr<XXH3_state_t, void (*)(XXH3_state_t*)> whole_;
    std::string block_;  // the current partial block, for its checksum
    uint64_t bytes_ = 0;
    uint64_t checked_free_at_ = 0;  // bytes_ when free space was last checked
    StoreLimits limits_;
    bool finished_ = false;
  };

  // The header (tensor, kind, rows) is validated here; bytes and checksums are filled in as
  // the piece is written. FAILED_PRECONDITION when `attempt` is fenced off.
  Status StartPiece(const std::string& job_id, uint64_t checkpoint, uint32_t attempt,
                    const PieceRecord& header, std::unique_ptr<PieceWriter>* out);

  // `expected`: every piece of this server's part of the checkpoint with bytes and checksum
  // as the writer saw them, written by gang attempt `attempt`. `abandoned` is asked just
  // before the manifest is written: true (the caller gave up) makes it CANCELLED, uncommitted.
  Status Commit(const std::string& job_id, uint64_t checkpoint, uint32_t attempt,
                const std::vector<PieceRecord>& expected, Retention retention,
                const std::function<bool()>& abandoned, Manifest* out);

  // From now on refuses pieces and commits of attempts below `attempt` (durably; a lower
  // fence than the current one changes nothing).
  Status Fence(const std::string& job_id, uint32_t attempt);

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
  std::string JobDir(const std::string& job_id) const { return root_ + "/" + job_id; }
  std::string CheckpointDir(const std::string& job_id, uint64_t checkpoint) const;
  Status LoadManifest(const std::string& job_id, uint64_t checkpoint, Manifest* out) const;
  Status FenceOf(const std::string& job_id, uint32_t* out);
  Status CheckFence(const std::string& job_id, uint32_t attempt);
  // Creates `dir` (if missing) and syncs its parent, so that the new entry is durable.
  Status CreateDurably(const std::string& dir) const;
  // Every file of a committed checkpoint's directory that its manifest does not name.
  static Status RemoveUnnamedFiles(const std::string& dir, const Manifest& manifest);
  // Under mutex_.
  Status PruneLocked(const std::string& job_id, uint64_t checkpoint, Retention retention);
  // Reads bytes [offset, offset + length) of a piece, verifying every block it touches.
  Status ReadVerified(const std::string& dir, const PieceRecord& piece, uint64_t offset,
                      uint64_t length, std::string* out) const;

  std::string root_;
  StoreLimits limits_;
  std::mutex mutex_;  // commits, fences, lists, deletes and retention of one store, one at a time
  // The FENCE files read so far. Its own lock, so that starting a piece never waits on a commit.
  std::mutex fence_mutex_;
  std::map<std::string, uint32_t> fences_;
};

}  // namespace mw
