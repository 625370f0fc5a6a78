#include "worker/data/shards/shard_check.h"

#include <archive.h>
#include <archive_entry.h>
#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

#include "worker/data/shards/shard_dataset.h"

namespace mw {

namespace {

constexpr uint64_t kChunkBytes = 8ull << 20;

// Feeds libarchive a shard in kChunkBytes ranged reads, hashing every byte on the way.
struct ShardStream {
  const ByteSource* source = nullptr;
  const ShardInfo* shard = nullptr;
  uint64_t position = 0;
  std::string chunk;
  XXH3_state_t* hash = nullptr;
  Status error;

  static la_ssize_t OnRead(struct archive*, void* self, const void** buffer) {
    auto* s = static_cast<ShardStream*>(self);
    const uint64_t left = s->shard->bytes - std::min(s->shard->bytes, s->position);
    if (left == 0) return 0;
    s->error = s->source->Read(s->shard->name, s->position, std::min(left, kChunkBytes), &s->chunk);
    if (!s->error.ok()) return -1;
    XXH3_64bits_update(s->hash, s->chunk.data(), s->chunk.size());
    s->position += s->chunk.size();
    *buffer = s->chunk.data();
    return static_cast<la_ssize_t>(s->chunk.size());
  }
};

struct ArchiveCloser {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

Status CheckShard(const ShardDataset& data, uint32_t shard_number,
                  const std::vector<int64_t>& ids) {
  const ShardManifest& manifest = data.manifest();
  const ShardInfo& shard = manifest.shards[shard_number];
  const std::string where = data.source().Locate(shard.name);
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> hash(XXH3_createState(), XXH3_freeState);
  XXH3_64bits_reset(hash.get());
  ShardStream stream{&data.source(), &shard, 0, {}, hash.get(), Status::Ok()};
  std::unique_ptr<struct archive, ArchiveCloser> a(archive_read_new());
  archive_read_support_format_tar(a.get());
  if (archive_read_open(a.get(), &stream, nullptr, &ShardStream::OnRead, nullptr) != ARCHIVE_OK) {
    return stream.error.ok() ? Status::DataLoss(where + ": " + archive_error_string(a.get()))
                             : stream.error;
  }
  size_t next = 0;          // ids[next]: the sample whose image member comes next
  bool want_label = false;  // the member just read was a labelled sample's image
  std::string key, bytes;
  archive_entry* entry = nullptr;
  int r;
  while ((r = archive_read_next_header(a.get(), &entry)) == ARCHIVE_OK) {
    const std::string name = archive_entry_pathname(entry);
    const uint64_t data_offset = static_cast<uint64_t>(archive_read_header_position(a.get())) + 512;
    const la_int64_t size = archive_entry_size(entry);
    if (size < 0 || size > ShardManifest::kMaxSampleBytes) {
      return Status::DataLoss(where + ": " + name + ": size out of range");
    }
    bytes.resize(static_cast<size_t>(size));
    if (archive_read_data(a.get(), bytes.data(), bytes.size()) != size) {
      return stream.error.ok() ? Status::DataLoss(where + ": " + name + ": truncated member")
                               : stream.error;
    }
    if (want_label) {
      const int32_t label = data.index()[static_cast<size_t>(ids[next - 1])].label;
      if (name != key + ".cls" || bytes != std::to_string(label)) {
        return Status::DataLoss(where + ": " + name + " where " + key + ".cls, label " +
                                std::to_string(label) + ", belongs");
      }
      want_label = false;
      continue;
    }
    if (next >= ids.size()) {
      return Status::DataLoss(where + ": " + name + ": a member the index does not list");
    }
    key = SampleKey(ids[next]);
    const size_t dot = name.rfind('.');
    const std::string extension = dot == std::string::npos ? "" : name.substr(dot + 1);
    if (name.compare(0, dot, key) != 0 ||
        (extension != "jpg" && extension != "jpeg" && extension != "png")) {
      return Status::DataLoss(where + ": " + name + " where sample " + key + "'s image belongs");
    }
    want_label = manifest.labels > 0;
    const SampleLocation& s = data.index()[static_cast<size_t>(ids[next])];
    if (s.offset() != data_offset || s.size != bytes.size() ||
        static_cast<uint32_t>(Checksum(bytes.data(), bytes.size())) != s.check) {
      return Status::DataLoss(where + ": " + name + " (at byte " + std::to_string(data_offset) +
                              ") differs from sample " + std::to_string(ids[next]) +
                              " of the index");
    }
    ++next;
  }
  if (r != ARCHIVE_EOF) {
    return stream.error.ok() ? Status::DataLoss(where + ": " + archive_error_string(a.get()))
                             : stream.error;
  }
  if (want_label) return Status::DataLoss(where + ": " + key + ".cls is missing");
  if (next != ids.size()) {
    return Status::DataLoss(where + ": holds " + std::to_string(next) + " samples, the index " +
                            std::to_string(ids.size()));
  }
  // libarchive stops at the end-of-archive blocks; the rest is still the shard's.
  const void* ignored = nullptr;
  while (stream.position < shard.bytes) {
    if (ShardStream::OnRead(a.get(), &stream, &ignored) < 0) return stream.error;
  }
  if (stream.position != shard.bytes || XXH3_64bits_digest(hash.get()) != shard.checksum) {
    return Status::DataLoss(where + ": checksum differs from the manifest's");
  }
  std::string past_end;
  const Status longer = data.source().Read(shard.name, shard.bytes, 1, &past_end);
  if (longer.ok()) {
    return Status::DataLoss(where + ": longer than the manifest's " + std::to_string(shard.bytes) +
                            " bytes");
  }
  return longer.code() == Status::Code::kDataLoss ? Status::Ok() : longer;
}

}  // namespace

Status CheckShards(const std::string& location, const ObjectStoreOptions& options,
                   ShardCheckReport* report,
                   const std::function<void(int64_t done, int64_t total)>& progress) {
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<ShardDataset> data;
  MW_RETURN_IF_ERROR(ShardDataset::Open(location, options, &data));
  const ShardManifest& manifest = data->manifest();
  std::vector<std::vector<int64_t>> ids(manifest.shards.size());
  for (size_t i = 0; i < data->index().size(); ++i) ids[data->index()[i].shard].push_back(i);
  for (auto& list : ids) {
    std::sort(list.begin(), list.end(), [&](int64_t a, int64_t b) {
      return data->index()[a].block < data->index()[b].block;
    });
  }
  *report = {};
  for (uint32_t k = 0; k < manifest.shards.size(); ++k) {
    MW_RETURN_IF_ERROR(CheckShard(*data, k, ids[k]));
    report->bytes += manifest.shards[k].bytes;
    report->samples += manifest.shards[k].samples;
    ++report->shards;
    if (progress) progress(report->shards, static_cast<int64_t>(manifest.shards.size()));
  }
  report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return Status::Ok();
}

}  // namespace mw
