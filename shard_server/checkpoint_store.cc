#include "shard_server/checkpoint_store.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <tuple>

#include <xxhash.h>

#include "common/fault_points.h"
#include "common/names.h"

namespace mw {

namespace {

namespace fs = std::filesystem;

constexpr char kManifestName[] = "MANIFEST";
constexpr uint64_t kChunkBytes = kManifestBlockBytes;

std::string CheckpointName(uint64_t checkpoint) {
  char name[32];
  std::snprintf(name, sizeof(name), "%020" PRIu64, checkpoint);
  return name;
}

bool ParseCheckpointName(const std::string& name, uint64_t* out) {
  if (name.size() != 20 || !std::all_of(name.begin(), name.end(), ::isdigit)) return false;
  *out = std::stoull(name);
  return true;
}

std::string PieceFileName(const PieceRecord& p) {
  if (!p.rows) return p.tensor + ".blob";
  return p.tensor + "." + std::to_string(p.row_begin) + "-" + std::to_string(p.row_end) + ".rows";
}

// The manifest goes first, durably: from that instant the checkpoint is not committed, so a
// crash part-way through removing its pieces never leaves a manifest without its pieces.
Status RemoveCheckpointDir(const std::string& dir) {
  std::error_code error;
  fs::remove(dir + "/" + kManifestName, error);
  if (error) return Status::Internal(dir + ": cannot remove the manifest: " + error.message());
  MW_RETURN_IF_ERROR(SyncDirectory(dir));
  fs::remove_all(dir, error);
  if (error) return Status::Internal(dir + ": " + error.message());
  return Status::Ok();
}

// Size, XXH3-64 and per-block checksums of a file as it is on disk, read one block at a time:
// pieces are gigabytes at 14.2M classes, so none is ever held whole in memory.
struct FileDigest {
  uint64_t bytes = 0;
  uint64_t checksum = 0;
  std::vector<uint64_t> blocks;
};

Status DigestFile(const std::string& path, FileDigest* out) {
  std::error_code error;
  const uint64_t size = fs::file_size(path, error);
  if (error) return Status::NotFound(path + ": " + error.message());
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> state(XXH3_createState(),
                                                                 &XXH3_freeState);
  XXH3_64bits_reset(state.get());
  out->bytes = size;
  out->blocks.clear();
  std::string block;
  for (uint64_t offset = 0; offset < size; offset += kManifestBlockBytes) {
    const uint64_t n = std::min<uint64_t>(kManifestBlockBytes, size - offset);
    MW_RETURN_IF_ERROR(ReadFileRange(path, offset, n, &block));
    XXH3_64bits_update(state.get(), block.data(), block.size());
    out->blocks.push_back(Checksum(block.data(), block.size()));
  }
  out->checksum = XXH3_64bits_digest(state.get());
  return Status::Ok();
}

// What makes two commits of one checkpoint the same commit: the same pieces, byte for byte.
bool SamePieces(const std::vector<PieceRecord>& a, const std::vector<PieceRecord>& b) {
  const auto key = [](const PieceRecord& p) {
    return std::make_tuple(p.tensor, p.rows, p.row_begin, p.row_end, p.row_bytes, p.total_rows,
                           p.bytes, p.checksum);
  };
  if (a.size() != b.size()) return false;
  std::vector<decltype(key(a[0]))> ka, kb;
  for (const auto& p : a) ka.push_back(key(p));
  for (const auto& p : b) kb.push_back(key(p));
  std::sort(ka.begin(), ka.end());
  std::sort(kb.begin(), kb.end());
  return ka == kb;
}

}  // namespace

Status CheckpointStore::Open(const std::string& root, std::unique_ptr<CheckpointStore>* out,
                             StoreLimits limits) {
  std::error_code error;
  fs::create_directories(root, error);
  if (error) return Status::Internal(root + ": cannot create: " + error.message());
  out->reset(new CheckpointStore(root, limits));
  return Status::Ok();
}

std::string CheckpointStore::CheckpointDir(const std::string& job_id, uint64_t checkpoint) const {
  return root_ + "/" + job_id + "/" + CheckpointName(checkpoint);
}

CheckpointStore::PieceWriter::~PieceWriter() {
  if (!finished_) {
    std::error_code ignored;
    fs::remove(path_, ignored);
  }
}

Status CheckpointStore::PieceWriter::Append(const void* data, size_t bytes) {
  const char* p = static_cast<const char*>(data);
  if (bytes_ + bytes > limits_.max_piece_bytes) {
    return Status::ResourceExhausted(record_.tensor + ": piece larger than " +
                                     std::to_string(limits_.max_piece_bytes) +
                                     " bytes (--max-piece-bytes)");
  }
  // Free space is checked at the first bytes and every 64 MiB after: a statvfs per message
  // would cost more than the write.
  if (bytes_ == 0 || bytes_ - checked_free_at_ >= (uint64_t{64} << 20)) {
    checked_free_at_ = bytes_;
    struct statvfs fs_stat;
    if (::statvfs(path_.c_str(), &fs_stat) == 0) {
      const uint64_t free = static_cast<uint64_t>(fs_stat.f_bavail) * fs_stat.f_frsize;
      if (free < limits_.min_free_bytes + bytes) {
        return Status::ResourceExhausted(
            path_ + ": " + std::to_string(free >> 20) + " MiB free, below the " +
            std::to_string(limits_.min_free_bytes >> 20) + " MiB kept free (--min-free-bytes)");
      }
    }
  }
  MW_RETURN_IF_ERROR(file_.Append(p, bytes));
  bytes_ += bytes;
  while (bytes > 0) {
    const size_t take = std::min(bytes, kManifestBlockBytes - block_.size());
    block_.append(p, take);
    p += take;
    bytes -= take;
    if (block_.size() == kManifestBlockBytes) {
      record_.block_checksums.push_back(Checksum(block_.data(), block_.size()));
      block_.clear();
    }
  }
  return Status::Ok();
}

Status CheckpointStore::PieceWriter::Finish(PieceRecord* out) {
  if (!block_.empty()) record_.block_checksums.push_back(Checksum(block_.data(), block_.size()));
  block_.clear();
  record_.bytes = bytes_;
  MW_RETURN_IF_ERROR(record_.Validate());
  MW_RETURN_IF_ERROR(file_.SyncAndClose());
  // The whole-piece checksum, from the file as it is on disk.
  FileDigest digest;
  MW_RETURN_IF_ERROR(DigestFile(path_, &digest));
  record_.checksum = digest.checksum;
  finished_ = true;
  *out = record_;
  return Status::Ok();
}

Status CheckpointStore::StartPiece(const std::string& job_id, uint64_t checkpoint,
                                   const PieceRecord& header, std::unique_ptr<PieceWriter>* out) {
  MW_RETURN_IF_ERROR(ValidateJobId(job_id));
  MW_RETURN_IF_ERROR(ValidateTensorName(header.tensor));
  if (header.rows && (header.row_begin >= header.row_end || header.row_end > header.total_rows ||
                      header.row_bytes == 0)) {
    return Status::InvalidArgument(header.tensor + ": rows [" + std::to_string(header.row_begin) +
                                   ", " + std::to_string(header.row_end) + ") of " +
                                   std::to_string(header.total_rows) + " with " +
                                   std::to_string(header.row_bytes) + " bytes each");
  }
  const std::string dir = CheckpointDir(job_id, checkpoint);
  std::error_code error;
  // A committed checkpoint is immutable: a piece rewritten under its manifest would be served
  // as the old one until its checksum failed.
  if (fs::exists(dir + "/" + kManifestName, error)) {
    return Status::AlreadyExists("job " + job_id + " checkpoint " + std::to_string(checkpoint) +
                                 " is committed; write a new checkpoint number");
  }
  fs::create_directories(dir, error);
  if (error) return Status::Internal(dir + ": cannot create: " + error.message());
  auto writer = std::unique_ptr<PieceWriter>(new PieceWriter());
  writer->record_ = header;
  writer->record_.block_checksums.clear();
  writer->record_.file = PieceFileName(header);
  writer->path_ = dir + "/" + writer->record_.file;
  writer->limits_ = limits_;
  MW_RETURN_IF_ERROR(WritableFile::Create(writer->path_, &writer->file_));
  *out = std::move(writer);
  return Status::Ok();
}

Status CheckpointStore::Commit(const std::string& job_id, uint64_t checkpoint,
                               const std::vector<PieceRecord>& expected, uint32_t keep_last,
                               Manifest* out) {
  MW_RETURN_IF_ERROR(ValidateJobId(job_id));
  const std::string dir = CheckpointDir(job_id, checkpoint);
  std::lock_guard<std::mutex> lock(commit_mutex_);
  std::error_code exists_error;
  if (fs::exists(dir + "/" + kManifestName, exists_error)) {
    // A commit repeated (its answer was lost, or a coordinator recovering does it again) is
    // the same commit when it names the same pieces; anything else would change history.
    Manifest committed;
    MW_RETURN_IF_ERROR(LoadManifest(job_id, checkpoint, &committed));
    if (!SamePieces(committed.pieces, expected)) {
      return Status::AlreadyExists("job " + job_id + " checkpoint " + std::to_string(checkpoint) +
                                   " is committed with other pieces");
    }
    *out = committed;
    return Status::Ok();
  }
  Manifest manifest;
  manifest.job_id = job_id;
  manifest.checkpoint = checkpoint;
  for (const PieceRecord& want : expected) {
    MW_RETURN_IF_ERROR(want.Validate());
    PieceRecord piece = want;
    piece.file = PieceFileName(want);
    FileDigest digest;
    const Status read = DigestFile(dir + "/" + piece.file, &digest);
    if (!read.ok()) {
      return Status::FailedPrecondition("checkpoint " + std::to_string(checkpoint) + ": piece " +
                                        piece.file + " was not written: " + read.message());
    }
    if (digest.bytes != want.bytes || digest.checksum != want.checksum) {
      return Status::DataLoss("checkpoint " + std::to_string(checkpoint) + ": piece " + piece.file +
                              " on disk (" + std::to_string(digest.bytes) +
                              " bytes) is not the piece written (" + std::to_string(want.bytes) +
                              " bytes)");
    }
    piece.block_checksums = std::move(digest.blocks);
    manifest.pieces.push_back(std::move(piece));
  }
  MW_RETURN_IF_ERROR(SyncDirectory(dir));
  MW_RETURN_IF_ERROR(FaultPoint("shard.commit.before_manifest"));
  MW_RETURN_IF_ERROR(WriteFileAtomically(dir + "/" + kManifestName, SerializeManifest(manifest)));
  MW_RETURN_IF_ERROR(SyncDirectory(root_ + "/" + job_id));
  MW_RETURN_IF_ERROR(FaultPoint("shard.commit.after_manifest"));
  *out = manifest;

  // Retention and clean-up: older checkpoints beyond keep_last, and directories older than
  // this one that never committed (a crash mid-write leaves those).
  std::vector<uint64_t> committed;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(root_ + "/" + job_id, error)) {
    uint64_t number = 0;
    if (!ParseCheckpointName(entry.path().filename().string(), &number)) continue;
    if (number >= checkpoint) continue;
    if (fs::exists(entry.path() / kManifestName)) {
      committed.push_back(number);
    } else {
      fs::remove_all(entry.path(), error);
    }
  }
  std::sort(committed.begin(), committed.end());
  if (keep_last > 0) {
    const size_t keep_older = keep_last - 1;  // this checkpoint is one of the kept
    for (size_t i = 0; i + keep_older < committed.size(); ++i) {
      MW_RETURN_IF_ERROR(RemoveCheckpointDir(CheckpointDir(job_id, committed[i])));
    }
  }
  return Status::Ok();
}

Status CheckpointStore::LoadManifest(const std::string& job_id, uint64_t checkpoint,
                                     Manifest* out) const {
  MW_RETURN_IF_ERROR(ValidateJobId(job_id));
  std::string text;
  const Status read = ReadFile(CheckpointDir(job_id, checkpoint) + "/" + kManifestName, &text);
  if (!read.ok()) {
    return Status::NotFound("job " + job_id + " has no committed checkpoint " +
                            std::to_string(checkpoint));
  }
  MW_RETURN_IF_ERROR(ParseManifest(text, out));
  if (out->job_id != job_id || out->checkpoint != checkpoint) {
    return Status::DataLoss("manifest of " + job_id + "/" + std::to_string(checkpoint) +
                            " names another checkpoint");
  }
  return Status::Ok();
}

Status CheckpointStore::List(const std::string& job_id, std::vector<Manifest>* out) {
  MW_RETURN_IF_ERROR(ValidateJobId(job_id));
  out->clear();
  std::vector<uint64_t> numbers;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(root_ + "/" + job_id, error)) {
    uint64_t number = 0;
    if (ParseCheckpointName(entry.path().filename().string(), &number)) numbers.push_back(number);
  }
  std::sort(numbers.begin(), numbers.end());
  for (uint64_t number : numbers) {
    Manifest manifest;
    if (LoadManifest(job_id, number, &manifest).ok()) out->push_back(std::move(manifest));
  }
  return Status::Ok();
}

Status CheckpointStore::ReadVerified(const std::string& dir, const PieceRecord& piece,
                                     uint64_t offset, uint64_t length, std::string* out) const {
  const uint64_t first_block = offset / kManifestBlockBytes;
  const uint64_t end_block = (offset + length + kManifestBlockBytes - 1) / kManifestBlockBytes;
  const uint64_t begin = first_block * kManifestBlockBytes;
  const uint64_t end = std::min(piece.bytes, end_block * kManifestBlockBytes);
  std::string blocks;
  const Status read = ReadFileRange(dir + "/" + piece.file, begin, end - begin, &blocks);
  if (!read.ok()) return Status::DataLoss("piece " + piece.file + ": " + read.message());
  for (uint64_t b = first_block; b < end_block; ++b) {
    const uint64_t at = (b - first_block) * kManifestBlockBytes;
    const uint64_t n = std::min<uint64_t>(kManifestBlockBytes, blocks.size() - at);
    if (Checksum(blocks.data() + at, n) != piece.block_checksums[b]) {
      return Status::DataLoss("piece " + piece.file + ": block " + std::to_string(b) +
                              " does not match its checksum");
    }
  }
  *out = blocks.substr(offset - begin, length);
  return Status::Ok();
}

Status CheckpointStore::ReadRows(const std::string& job_id, uint64_t checkpoint,
                                 const std::string& tensor, uint64_t row_begin, uint64_t row_end,
                                 const Sink& sink) {
  MW_RETURN_IF_ERROR(ValidateTensorName(tensor));
  Manifest manifest;
  MW_RETURN_IF_ERROR(LoadManifest(job_id, checkpoint, &manifest));
  std::vector<const PieceRecord*> pieces;
  for (const auto& p : manifest.pieces) {
    if (p.rows && p.tensor == tensor) pieces.push_back(&p);
  }
  std::sort(pieces.begin(), pieces.end(),
            [](const PieceRecord* a, const PieceRecord* b) { return a->row_begin < b->row_begin; });
  const std::string dir = CheckpointDir(job_id, checkpoint);
  uint64_t row = row_begin;
  for (const PieceRecord* p : pieces) {
    if (row >= row_end) break;
    if (p->row_end <= row) continue;
    if (p->row_begin > row) break;  // a gap: reported below
    const uint64_t last = std::min(row_end, p->row_end);
    const uint64_t rows_per_chunk = std::max<uint64_t>(1, kChunkBytes / p->row_bytes);
    while (row < last) {
      const uint64_t n = std::min(rows_per_chunk, last - row);
      std::string data;
      MW_RETURN_IF_ERROR(
          ReadVerified(dir, *p, (row - p->row_begin) * p->row_bytes, n * p->row_bytes, &data));
      MW_RETURN_IF_ERROR(sink(row, data.data(), data.size()));
      row += n;
    }
  }
  if (row < row_end) {
    return Status::OutOfRange(tensor + ": rows from " + std::to_string(row) +
                              " are not on this server in checkpoint " +
                              std::to_string(checkpoint));
  }
  return Status::Ok();
}

Status CheckpointStore::ReadBlob(const std::string& job_id, uint64_t checkpoint,
                                 const std::string& tensor, const Sink& sink) {
  MW_RETURN_IF_ERROR(ValidateTensorName(tensor));
  Manifest manifest;
  MW_RETURN_IF_ERROR(LoadManifest(job_id, checkpoint, &manifest));
  for (const auto& p : manifest.pieces) {
    if (p.rows || p.tensor != tensor) continue;
    const std::string dir = CheckpointDir(job_id, checkpoint);
    for (uint64_t offset = 0; offset < p.bytes || offset == 0; offset += kChunkBytes) {
      std::string data;
      const uint64_t n = std::min<uint64_t>(kChunkBytes, p.bytes - offset);
      MW_RETURN_IF_ERROR(ReadVerified(dir, p, offset, n, &data));
      MW_RETURN_IF_ERROR(sink(offset, data.data(), data.size()));
      if (p.bytes == 0) break;
    }
    return Status::Ok();
  }
  return Status::NotFound("checkpoint " + std::to_string(checkpoint) + " has no blob " + tensor);
}

Status CheckpointStore::Delete(const std::string& job_id, uint64_t checkpoint) {
  MW_RETURN_IF_ERROR(ValidateJobId(job_id));
  std::lock_guard<std::mutex> lock(commit_mutex_);
  const std::string dir = CheckpointDir(job_id, checkpoint);
  std::error_code error;
  if (!fs::exists(dir, error)) {
    return Status::NotFound("job " + job_id + " has no checkpoint " + std::to_string(checkpoint));
  }
  return RemoveCheckpointDir(dir);
}

}  // namespace mw
