#include "common/checksum.h"

#include <xxhash.h>

namespace mw {

uint64_t Checksum(const void* data, size_t bytes) { return XXH3_64bits(data, bytes); }

}  // namespace mw
