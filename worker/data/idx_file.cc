#include "worker/data/idx_file.h"

#include <zlib.h>

#include <memory>

namespace mw {

namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};

Status Fail(const std::string& path, const std::string& what) {
  return Status::InvalidArgument(path + ": " + what);
}

}  // namespace

Status ReadIdxFile(const std::string& path, IdxArray* out) {
  // gzread passes plain files through unchanged, so one reader serves .gz and raw files.
  std::unique_ptr<gzFile_s, GzCloser> file(gzopen(path.c_str(), "rb"));
  if (file == nullptr) return Status::NotFound(path + ": cannot open (missing or unreadable)");
  uint8_t header[4];
  if (gzread(file.get(), header, 4) != 4) return Fail(path, "shorter than an IDX header");
  if (header[0] != 0 || header[1] != 0) {
    return Fail(path, "not an IDX file (magic bytes " + std::to_string(header[0]) + " " +
                          std::to_string(header[1]) + ", want 0 0)");
  }
  if (header[2] != 0x08) {
    return Fail(path, "IDX type " + std::to_string(header[2]) + " is not unsigned byte (8)");
  }
  const int rank = header[3];
  if (rank < 1 || rank > 4) return Fail(path, "IDX rank " + std::to_string(rank) + " not in 1..4");
  out->dims.clear();
  int64_t total = 1;
  for (int i = 0; i < rank; ++i) {
    uint8_t be[4];
    if (gzread(file.get(), be, 4) != 4) return Fail(path, "header ends inside dimension sizes");
    const int64_t dim =
        (int64_t{be[0]} << 24) | (int64_t{be[1]} << 16) | (int64_t{be[2]} << 8) | be[3];
    if (dim <= 0) return Fail(path, "dimension " + std::to_string(i) + " is empty");
    total *= dim;
    if (total > (int64_t{1} << 34)) return Fail(path, "header claims more than 16 GiB");
    out->dims.push_back(dim);
  }
  out->data.resize(static_cast<size_t>(total));
  int64_t read = 0;
  while (read < total) {
    const auto want = static_cast<unsigned>(std::min<int64_t>(total - read, 1 << 30));
    const int got = gzread(file.get(), out->data.data() + read, want);
    if (got <= 0) break;
    read += got;
  }
  if (read != total) {
    return Fail(path, "truncated: header promises " + std::to_string(total) + " bytes, file has " +
                          std::to_string(read));
  }
  uint8_t extra;
  if (gzread(file.get(), &extra, 1) != 0) return Fail(path, "trailing bytes after the data");
  return Status::Ok();
}

}  // namespace mw
