// ShardManifest: what a packed dataset holds, and where each sample's bytes lie.
//
// A packed dataset is a directory (or an object-store prefix) of WebDataset shards: plain
// POSIX tar files in which one sample is the members sharing a basename, `<key>.jpg` (or
// .png) and `<key>.cls` (the label, decimal). Beside them:
//   manifest.json  the format, sample and label counts, and every shard's samples, bytes and
//                  XXH3-64 checksum;
//   index.bin      for every sample, in id order: its shard, the offset and size of its image
//                  member's bytes, its label and a checksum of those bytes.
// The index is what makes reads random access: a sample is one ranged read, so an epoch's
// order is a global permutation whatever the shard layout. It is one file for the whole set
// rather than one per shard so that opening ImageNet-21K is one request, not 1,400.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/checksum.h"
#include "common/status.h"

namespace mw {

struct ShardInfo {
  std::string name;  // a file name, no directories
  int64_t samples = 0;
  uint64_t bytes = 0;
  uint64_t checksum = 0;  // XXH3-64 of the whole file
};

// One sample's image member. Tar members start on 512-byte blocks, so the offset is stored
// as a block number: 20 bytes a sample, 284 MB of index for ImageNet-21K's 14.2M.
struct SampleLocation {
  uint32_t shard = 0;
  uint32_t block = 0;  // the member's data starts at block * 512
  uint32_t size = 0;
  int32_t label = -1;  // -1: unlabelled
  uint32_t check = 0;  // the low 32 bits of the XXH3-64 of the member's bytes

  uint64_t offset() const { return uint64_t{block} * 512; }
};

struct ShardManifest {
  static constexpr const char* kFormat = "millionway-shards/1";
  static constexpr const char* kManifestName = "manifest.json";
  static constexpr const char* kIndexName = "index.bin";
  // Bounds on what a reader accepts, so a hostile or broken manifest cannot make a worker
  // allocate without limit.
  static constexpr uint64_t kMaxManifestBytes = 64ull << 20;
  static constexpr int64_t kMaxSamples = (int64_t{1} << 31) - 1;
  static constexpr uint32_t kMaxSampleBytes = 64u << 20;

  int64_t samples = 0;
  int channels = 3;    // 1: decoded as grey, 3: as RGB
  int64_t labels = 0;  // 0: unlabelled
  uint64_t index_bytes = 0;
  uint64_t index_checksum = 0;  // XXH3-64 of index.bin
  std::vector<ShardInfo> shards;

  std::string ToJson() const;
  // `source` names the manifest in errors. Checks the format and that the counts agree.
  static Status FromJson(const std::string& text, const std::string& source, ShardManifest* out);
};

// index.bin: "MWSHIDX1", the sample count (u64), then 20 bytes a sample, little-endian.
std::string EncodeSampleIndex(const std::vector<SampleLocation>& samples);
// Checks the header, the length and every entry against the manifest (shard numbers, sizes,
// offsets within the shard, labels within range).
Status DecodeSampleIndex(const std::string& bytes, const ShardManifest& manifest,
                         const std::string& source, std::vector<SampleLocation>* out);

std::string ChecksumHex(uint64_t checksum);
// Sample `id`'s basename in the shards: its id in nine digits ("000000042").
std::string SampleKey(int64_t id);

}  // namespace mw
