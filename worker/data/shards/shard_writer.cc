#include "worker/data/shards/shard_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <xxhash.h>

#include <cstdio>
#include <filesystem>

namespace mw {

namespace {

constexpr uint64_t kBlock = 512;

uint64_t Padded(uint64_t bytes) { return (bytes + kBlock - 1) / kBlock * kBlock; }

std::string ShardName(size_t number) {
  char name[32];
  std::snprintf(name, sizeof name, "shard-%06zu.tar", number);
  return name;
}

}  // namespace

Status ShardWriter::Create(const std::string& dir, const ShardWriterOptions& options,
                           std::unique_ptr<ShardWriter>* out) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return Status::Unavailable(dir + ": " + error.message());
  if (std::filesystem::exists(dir + "/" + ShardManifest::kManifestName, error)) {
    return Status::FailedPrecondition(dir + " already holds a packed dataset (manifest.json)");
  }
  if (options.channels != 1 && options.channels != 3) {
    return Status::InvalidArgument("channels must be 1 or 3");
  }
  if (options.shard_bytes < (1u << 20)) {
    return Status::InvalidArgument("shard size must be at least 1 MiB");
  }
  out->reset(new ShardWriter(dir, options));
  (*out)->manifest_.channels = options.channels;
  (*out)->manifest_.labels = options.labels;
  return Status::Ok();
}

ShardWriter::~ShardWriter() {
  if (archive_ != nullptr) archive_write_free(archive_);
  if (hash_state_ != nullptr) XXH3_freeState(static_cast<XXH3_state_t*>(hash_state_));
}

ssize_t ShardWriter::OnWrite(struct archive*, void* self, const void* data, size_t bytes) {
  auto* writer = static_cast<ShardWriter*>(self);
  const Status appended = writer->file_->Append(data, bytes);
  if (!appended.ok()) {
    writer->write_error_ = appended;
    return -1;
  }
  XXH3_64bits_update(static_cast<XXH3_state_t*>(writer->hash_state_), data, bytes);
  writer->written_ += bytes;
  return static_cast<ssize_t>(bytes);
}

Status ShardWriter::OpenShard() {
  ShardInfo info;
  info.name = ShardName(manifest_.shards.size());
  file_ = std::make_unique<WritableFile>();
  MW_RETURN_IF_ERROR(WritableFile::Create(dir_ + "/" + info.name, file_.get()));
  if (hash_state_ == nullptr) hash_state_ = XXH3_createState();
  XXH3_64bits_reset(static_cast<XXH3_state_t*>(hash_state_));
  archive_ = archive_write_new();
  archive_write_set_format_ustar(archive_);
  // No padding past the end-of-archive blocks: the shard is exactly its members plus 1 KiB.
  archive_write_set_bytes_in_last_block(archive_, 1);
  if (archive_write_open2(archive_, this, nullptr, &ShardWriter::OnWrite, nullptr, nullptr) !=
      ARCHIVE_OK) {
    return Status::Internal(info.name + ": " + archive_error_string(archive_));
  }
  position_ = 0;
  written_ = 0;
  manifest_.shards.push_back(std::move(info));
  return Status::Ok();
}

Status ShardWriter::CloseShard() {
  ShardInfo& info = manifest_.shards.back();
  const int closed = archive_write_close(archive_);
  const std::string why = archive_error_string(archive_) ? archive_error_string(archive_) : "";
  archive_write_free(archive_);
  archive_ = nullptr;
  if (closed != ARCHIVE_OK) {
    return write_error_.ok() ? Status::Unavailable(info.name + ": " + why) : write_error_;
  }
  MW_RETURN_IF_ERROR(file_->SyncAndClose());
  file_.reset();
  // Two zero blocks end a tar; anything else means an offset in the index is wrong.
  if (written_ != position_ + 2 * kBlock) {
    return Status::Internal(info.name + ": libarchive wrote " + std::to_string(written_) +
                            " bytes where the index expects " +
                            std::to_string(position_ + 2 * kBlock));
  }
  info.bytes = written_;
  info.checksum = XXH3_64bits_digest(static_cast<XXH3_state_t*>(hash_state_));
  return Status::Ok();
}

Status ShardWriter::AddMember(const std::string& name, const std::string& bytes) {
  archive_entry* entry = archive_entry_new();
  archive_entry_set_pathname(entry, name.c_str());
  archive_entry_set_size(entry, static_cast<la_int64_t>(bytes.size()));
  archive_entry_set_filetype(entry, AE_IFREG);
  archive_entry_set_perm(entry, 0644);
  archive_entry_set_mtime(entry, 0, 0);  // packing the same images twice gives the same bytes
  const bool header_ok = archive_write_header(archive_, entry) == ARCHIVE_OK;
  archive_entry_free(entry);
  if (!header_ok || archive_write_data(archive_, bytes.data(), bytes.size()) !=
                        static_cast<la_ssize_t>(bytes.size())) {
    return write_error_.ok() ? Status::Unavailable(manifest_.shards.back().name + ": " + name +
                                                   ": " + archive_error_string(archive_))
                             : write_error_;
  }
  position_ += kBlock + Padded(bytes.size());
  return Status::Ok();
}

Status ShardWriter::Add(const std::string& image, const std::string& extension, int64_t label) {
  if (extension != "jpg" && extension != "jpeg" && extension != "png") {
    return Status::InvalidArgument("extension '" + extension + "' is not jpg, jpeg or png");
  }
  if (image.empty() || image.size() > ShardManifest::kMaxSampleBytes) {
    return Status::InvalidArgument("sample " + std::to_string(index_.size()) + ": " +
                                   std::to_string(image.size()) + " bytes is out of range");
  }
  if ((options_.labels == 0 && label != -1) ||
      (options_.labels > 0 && (label < 0 || label >= options_.labels))) {
    return Status::InvalidArgument("sample " + std::to_string(index_.size()) + ": label " +
                                   std::to_string(label) + " out of range");
  }
  const std::string cls = label >= 0 ? std::to_string(label) : "";
  const uint64_t sample_bytes =
      kBlock + Padded(image.size()) + (label >= 0 ? kBlock + Padded(cls.size()) : 0);
  if (archive_ != nullptr && manifest_.shards.back().samples > 0 &&
      position_ + sample_bytes > options_.shard_bytes) {
    MW_RETURN_IF_ERROR(CloseShard());
  }
  if (archive_ == nullptr) MW_RETURN_IF_ERROR(OpenShard());
  const std::string key = SampleKey(static_cast<int64_t>(index_.size()));
  SampleLocation location;
  location.shard = static_cast<uint32_t>(manifest_.shards.size() - 1);
  location.block = static_cast<uint32_t>((position_ + kBlock) / kBlock);
  location.size = static_cast<uint32_t>(image.size());
  location.label = static_cast<int32_t>(label);
  location.check = static_cast<uint32_t>(Checksum(image.data(), image.size()));
  MW_RETURN_IF_ERROR(AddMember(key + "." + extension, image));
  if (label >= 0) MW_RETURN_IF_ERROR(AddMember(key + ".cls", cls));
  index_.push_back(location);
  ++manifest_.shards.back().samples;
  return Status::Ok();
}

Status ShardWriter::Finish(ShardManifest* manifest) {
  if (index_.empty()) return Status::InvalidArgument(dir_ + ": no samples to pack");
  MW_RETURN_IF_ERROR(CloseShard());
  manifest_.samples = static_cast<int64_t>(index_.size());
  const std::string index = EncodeSampleIndex(index_);
  manifest_.index_bytes = index.size();
  manifest_.index_checksum = Checksum(index.data(), index.size());
  MW_RETURN_IF_ERROR(WriteFileAtomically(dir_ + "/" + ShardManifest::kIndexName, index));
  MW_RETURN_IF_ERROR(
      WriteFileAtomically(dir_ + "/" + ShardManifest::kManifestName, manifest_.ToJson()));
  if (manifest != nullptr) *manifest = manifest_;
  return Status::Ok();
}

}  // namespace mw
