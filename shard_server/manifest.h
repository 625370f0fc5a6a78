// Manifest: the record that makes a checkpoint on one shard server committed. It lists every
// piece with its byte count, whole-piece checksum and per-block checksums (so a read of a
// few rows verifies only the blocks it touches), and carries a checksum of its own text, so
// a torn or edited manifest is refused as firmly as a torn piece.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/checksum.h"
#include "common/status.h"

namespace mw {

inline constexpr uint64_t kManifestBlockBytes = uint64_t{1} << 20;

struct PieceRecord {
  std::string tensor;
  bool rows = false;  // a row piece (else a blob)
  uint64_t row_begin = 0, row_end = 0, row_bytes = 0, total_rows = 0;
  uint64_t bytes = 0;
  uint64_t checksum = 0;                  // XXH3-64 of the whole piece
  std::vector<uint64_t> block_checksums;  // XXH3-64 of each kManifestBlockBytes block
  std::string file;                       // name within the checkpoint's directory

  // Rules a piece header must satisfy (names valid, rows consistent with bytes).
  Status Validate() const;
};

struct Manifest {
  std::string job_id;
  uint64_t checkpoint = 0;
  std::vector<PieceRecord> pieces;
};

std::string SerializeManifest(const Manifest& manifest);
// DATA_LOSS for anything but a manifest this code wrote: bad JSON, a wrong checksum, a field
// missing or of the wrong type, a piece breaking its rules.
Status ParseManifest(const std::string& text, Manifest* out);

}  // namespace mw
