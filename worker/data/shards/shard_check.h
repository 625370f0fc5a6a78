// CheckShards: reads a packed dataset through, as a worker would reach it, and verifies it:
// every shard's size and checksum against the manifest, every tar member where the index
// puts it (read with libarchive, independently of the index's arithmetic), every sample's
// checksum and label. Shards are streamed in bounded ranges, never held whole.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/status.h"
#include "worker/data/shards/byte_source.h"

namespace mw {

struct ShardCheckReport {
  int64_t shards = 0;
  int64_t samples = 0;
  uint64_t bytes = 0;
  double seconds = 0;
};

// progress, when set, is called after each shard with the shards done so far.
Status CheckShards(const std::string& location, const ObjectStoreOptions& options,
                   ShardCheckReport* report,
                   const std::function<void(int64_t done, int64_t total)>& progress = {});

}  // namespace mw
