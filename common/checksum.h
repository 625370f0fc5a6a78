// Checksum: XXH3-64 of a byte range, the one integrity check of stored bytes (checkpoint
// pieces, dataset shards and samples). It detects corruption, not tampering.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mw {

uint64_t Checksum(const void* data, size_t bytes);

}  // namespace mw
