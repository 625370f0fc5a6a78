// Writes a valid manifest to argv[1]: the manifest fuzzer's seed, so mutations start from the
// real format (a checksum-guarded JSON document) instead of random bytes.
#include <fstream>

#include "shard_server/manifest.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  mw::Manifest m;
  m.job_id = "job-7";
  m.checkpoint = 3;
  mw::PieceRecord rows;
  rows.tensor = "classifier.weight";
  rows.rows = true;
  rows.row_begin = 0;
  rows.row_end = 4;
  rows.row_bytes = 512;
  rows.total_rows = 10;
  rows.bytes = 2048;
  rows.checksum = 42;
  rows.block_checksums = {42};
  rows.file = "classifier.weight.0-4.rows";
  mw::PieceRecord blob;
  blob.tensor = "model";
  blob.bytes = 0;
  blob.file = "model.blob";
  m.pieces = {rows, blob};
  std::ofstream(argv[1]) << mw::SerializeManifest(m);
  return 0;
}
