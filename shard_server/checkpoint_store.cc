#include "shard_server/checkpoint_store.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>
#include <tuple>

#include <xxhash.h>

#include "common/fault_points.h"
#include "common/log.h"
#include "common/names.h"

namespace mw {

namespace {

namespace fs = std::filesystem;

constexpr char kManifestName[] = "MANIFEST";
constexpr char kFenceName[] = "FENCE";
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

// The gang attempt is part of the name: a piece still streaming from a gang that was given up
// on never writes into the file its successor writes.
std::string PieceFileName(const PieceRecord& p, uint32_t attempt) {
  const std::string by = ".a" + std::to_string(attempt);
  if (!p.rows) return p.tensor + by + ".blob";
  return p.tensor + "." + std::to_string(p.row_begin) + "-" + std::to_string(p.row_end) + by +
         ".rows";
}

// Beside each complete piece: its record (bytes, checksums of the bytes as received), kept in
// the manifest's format so that it carries its own checksum.
std::string SumFileName(const std::string& piece_file) { return piece_file + ".sum"; }

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

// The piece `want` as written by `attempt` into `dir`: its record, checked against what the
// committer expects and against the file's size (a record is written only after its file is
// fsync'd, so a record without its whole file means the file was damaged since).
Status WrittenPiece(const std::string& dir, const PieceRecord& want, uint32_t attempt,
                    uint64_t checkpoint, PieceRecord* out) {
  MW_RETURN_IF_ERROR(want.Validate());
  const std::string file = PieceFileName(want, attempt);
  const std::string what = "checkpoint " + std::to_string(checkpoint) + ": piece " + file;
  std::string text;
  if (!ReadFile(dir + "/" + SumFileName(file), &text).ok()) {
    return Status::FailedPrecondition(what + " was not written");
  }
  Manifest record;
  const Status parsed = ParseManifest(text, &record);
  if (!parsed.ok() || record.pieces.size() != 1) {
    return Status::DataLoss(what + ": its record is damaged: " + parsed.message());
  }
  const PieceRecord& got = record.pieces[0];
  if (!SamePieces({got}, {want})) {
    return Status::DataLoss(what + " as received (" + std::to_string(got.bytes) +
                            " bytes) is not the piece written (" + std::to_string(want.bytes) +
                            " bytes)");
  }
  std::error_code error;
  const uint64_t size = fs::file_size(dir + "/" + file, error);
  if (error || size != got.bytes) {
    return Status::DataLoss(what + " on disk is not the " + std::to_string(got.bytes) +
                            " bytes received" + (error ? ": " + error.message() : ""));
  }
  *out = got;
  return Status::Ok();
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
  return JobDir(job_id) + "/" + CheckpointName(checkpoint);
}

CheckpointStore::PieceWriter::PieceWriter()
    : whole_(XXH3_createState(), [](XXH3_state_t* s) { XXH3_freeState(s); }) {
  XXH3_64bits_reset(whole_.get());
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
  XXH3_64bits_update(whole_.get(), p, bytes);
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
  record_.checksum = XXH3_64bits_digest(whole_.get());
  MW_RETURN_IF_ERROR(record_.Validate());
  MW_RETURN_IF_ERROR(file_.SyncAndClose());
  Manifest record;
  record.job_id = job_id_;
  record.checkpoint = checkpoint_;
  record.pieces = {record_};
  MW_RETURN_IF_ERROR(WriteFileAtomically(SumFileName(path_), SerializeManifest(record)));
  finished_ = true;
  *out = record_;
  return Status::Ok();
}

Status CheckpointStore::FenceOf(const std::string& job_id, uint32_t* out) {
  std::lock_guard<std::mutex> lock(fence_mutex_);
  const auto cached = fences_.find(job_id);
  if (cached != fences_.end()) {
    *out = cached->second;
    return Status::Ok();
  }
  const std::string path = JobDir(job_id) + "/" + kFenceName;
  std::error_code error;
  uint32_t fence = 0;
  if (fs::exists(path, error)) {
    // A fence that cannot be read admits nothing: guessing 0 would let every old gang in.
    std::string text;
    char* end = nullptr;
    MW_RETURN_IF_ERROR(ReadFile(path, &text));
    fence = static_cast<uint32_t>(std::strtoul(text.c_str(), &end, 10));
    if (end == text.c_str()) return Status::DataLoss(path + ": not an attempt number");
  } else if (error) {
    return Status::Internal(path + ": " + error.message());
  }
  *out = fences_[job_id] = fence;
  return Status::Ok();
}

Status CheckpointStore::CheckFence(const std::string& job_id, uint32_t attempt) {
  uint32_t fence = 0;
  MW_RETURN_IF_ERROR(FenceOf(job_id, &fence));
  if (attempt >= fence) return Status::Ok();
  return Status::FailedPrecondition("job " + job_id + ": attempt " + std::to_string(attempt) +
                                    " is fenced off (attempts from " + std::to_string(fence) +
                                    " only): its gang was given up on");
}

Status CheckpointStore::Fence(const std::string& job_id, uint32_t attempt) {
  MW_RETURN_IF_ERROR(ValidateJobId(job_id));
  std::lock_guard<std::mutex> lock(mutex_);
  uint32_t current = 0;
  MW_RETURN_IF_ERROR(FenceOf(job_id, &current));
  if (attempt <= current) return Status::Ok();
  MW_RETURN_IF_ERROR(CreateDurably(JobDir(job_id)));
  MW_RETURN_IF_ERROR(
      WriteFileAtomically(JobDir(job_id) + "/" + kFenceName, std::to_string(attempt) + "\n"));
  std::lock_guard<std::mutex> fences(fence_mutex_);
  fences_[job_id] = attempt;
  return Status::Ok();
}

Status CheckpointStore::CreateDurably(const std::string& dir) const {
  std::error_code error;
  if (fs::exists(dir, error)) return Status::Ok();
  fs::create_directories(dir, error);
  if (error) return Status::Internal(dir + ": cannot create: " + error.message());
  // Its parent's entry must survive a power loss too, or a job's fence or first checkpoint
  // could vanish with it.
  return SyncDirectory(fs::path(dir).parent_path().string());
}

Status CheckpointStore::StartPiece(const std::string& job_id, uint64_t checkpoint, uint32_t attempt,
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
  MW_RETURN_IF_ERROR(CheckFence(job_id, attempt));
  const std::string dir = CheckpointDir(job_id, checkpoint);
  std::error_code error;
  // A committed checkpoint is immutable: a piece rewritten under its manifest would be served
  // as the old one until its checksum failed.
  if (fs::exists(dir + "/" + kManifestName, error)) {
    return Status::AlreadyExists("job " + job_id + " checkpoint " + std::to_string(checkpoint) +
                                 " is committed; write a new checkpoint number");
  }
  MW_RETURN_IF_ERROR(CreateDurably(JobDir(job_id)));
  MW_RETURN_IF_ERROR(CreateDurably(dir));
  auto writer = std::unique_ptr<PieceWriter>(new PieceWriter());
  writer->record_ = header;
  writer->record_.block_checksums.clear();
  writer->record_.file = PieceFileName(header, attempt);
  writer->job_id_ = job_id;
  writer->checkpoint_ = checkpoint;
  writer->path_ = dir + "/" + writer->record_.file;
  writer->limits_ = limits_;
  // The same piece written again by the same attempt (a retried upload): its old record no
  // longer describes the file.
  fs::remove(SumFileName(writer->path_), error);
  MW_RETURN_IF_ERROR(WritableFile::Create(writer->path_, &writer->file_));
  *out = std::move(writer);
  return Status::Ok();
}

Status CheckpointStore::Commit(const std::string& job_id, uint64_t checkpoint, uint32_t attempt,
                               const std::vector<PieceRecord>& expected, Retention retention,
                               const std::function<bool()>& abandoned, Manifest* out) {
  MW_RETURN_IF_ERROR(ValidateJobId(job_id));
  if (retention.recorded >= checkpoint) {
    return Status::InvalidArgument("recorded_checkpoint: " + std::to_string(retention.recorded) +
                                   " is not older than checkpoint " + std::to_string(checkpoint));
  }
  const std::string dir = CheckpointDir(job_id, checkpoint);
  std::lock_guard<std::mutex> lock(mutex_);
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
  MW_RETURN_IF_ERROR(CheckFence(job_id, attempt));
  Manifest manifest;
  manifest.job_id = job_id;
  manifest.checkpoint = checkpoint;
  for (const PieceRecord& want : expected) {
    PieceRecord piece;
    MW_RETURN_IF_ERROR(WrittenPiece(dir, want, attempt, checkpoint, &piece));
    manifest.pieces.push_back(std::move(piece));
  }
  MW_RETURN_IF_ERROR(SyncDirectory(dir));
  MW_RETURN_IF_ERROR(FaultPoint("shard.commit.before_manifest"));
  // A caller that gave up has moved on (it discards what it could not commit): a manifest
  // written now would be a commit nobody records.
  if (abandoned && abandoned()) {
    return Status::Cancelled("checkpoint " + std::to_string(checkpoint) +
                             ": the committer gave up before the manifest was written");
  }
  MW_RETURN_IF_ERROR(WriteFileAtomically(dir + "/" + kManifestName, SerializeManifest(manifest)));
  MW_RETURN_IF_ERROR(SyncDirectory(JobDir(job_id)));
  MW_RETURN_IF_ERROR(SyncDirectory(root_));
  MW_RETURN_IF_ERROR(FaultPoint("shard.commit.after_manifest"));
  *out = manifest;
  // Tidying after the commit: its failure leaves garbage, never a wrong answer.
  const Status tidied = RemoveUnnamedFiles(dir, manifest);
  const Status pruned = PruneLocked(job_id, checkpoint, retention);
  for (const Status& s : {tidied, pruned}) {
    if (!s.ok()) Log(LogLevel::kWarning, "after commit: " + s.ToString(), {{"job_id", job_id}});
  }
  return Status::Ok();
}

Status CheckpointStore::RemoveUnnamedFiles(const std::string& dir, const Manifest& manifest) {
  // Pieces of gangs given up on, and the records of the committed ones (the manifest holds
  // their checksums now): at 14.2M classes each stray set is gigabytes.
  std::set<std::string> named = {kManifestName};
  for (const auto& piece : manifest.pieces) named.insert(piece.file);
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    if (named.count(entry.path().filename().string())) continue;
    fs::remove(entry.path(), error);
    if (error) return Status::Internal(entry.path().string() + ": " + error.message());
  }
  return error ? Status::Internal(dir + ": " + error.message()) : Status::Ok();
}

Status CheckpointStore::PruneLocked(const std::string& job_id, uint64_t checkpoint,
                                    Retention retention) {
  // Older checkpoints beyond keep_last but below the recorded one, and directories older than
  // this one that never committed (a crash mid-write, or a gang given up on, leaves those).
  std::vector<uint64_t> committed;  // older than `checkpoint`
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(JobDir(job_id), error)) {
    uint64_t number = 0;
    if (!ParseCheckpointName(entry.path().filename().string(), &number)) continue;
    if (number >= checkpoint) continue;
    if (fs::exists(entry.path() / kManifestName)) {
      committed.push_back(number);
    } else {
      fs::remove_all(entry.path(), error);
    }
  }
  if (retention.keep_last == 0) return Status::Ok();
  std::sort(committed.begin(), committed.end());
  const size_t keep_older = retention.keep_last - 1;  // this checkpoint is one of the kept
  for (size_t i = 0; i + keep_older < committed.size(); ++i) {
    if (committed[i] >= retention.recorded) break;
    MW_RETURN_IF_ERROR(RemoveCheckpointDir(CheckpointDir(job_id, committed[i])));
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
  // Under the commit lock: a commit half done is either finished or not begun when listed.
  std::lock_guard<std::mutex> lock(mutex_);
  out->clear();
  std::vector<uint64_t> numbers;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(JobDir(job_id), error)) {
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
  std::lock_guard<std::mutex> lock(mutex_);
  const std::string dir = CheckpointDir(job_id, checkpoint);
  std::error_code error;
  if (!fs::exists(dir, error)) {
    return Status::NotFound("job " + job_id + " has no checkpoint " + std::to_string(checkpoint));
  }
  return RemoveCheckpointDir(dir);
}

}  // namespace mw
