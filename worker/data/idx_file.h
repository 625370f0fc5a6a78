// IdxFile: an array in the IDX format of MNIST and Fashion-MNIST (big-endian header: two
// zero bytes, a type byte, the number of dimensions, then each dimension as a 32-bit
// count), read whole, gzip-compressed or not.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace mw {

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;  // unsigned bytes, row-major
};

// Reads an IDX file of unsigned bytes (type 0x08). Errors name the file and what is wrong:
// missing, unreadable, bad magic, wrong type, truncated or with trailing bytes.
Status ReadIdxFile(const std::string& path, IdxArray* out);

}  // namespace mw
