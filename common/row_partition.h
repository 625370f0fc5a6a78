// RowPartition: how the N rows of the classifier are split into contiguous ranges over W
// ranks (or S shard servers). The first N % W ranges hold one extra row, so no two ranges
// differ by more than one row and any N >= W works.
#pragma once

#include <cstdint>

namespace mw {

class RowPartition {
 public:
  RowPartition(int64_t num_rows, int num_parts);

  int64_t num_rows() const { return num_rows_; }
  int num_parts() const { return num_parts_; }

  int64_t begin(int part) const;
  int64_t end(int part) const { return begin(part + 1); }
  int64_t size(int part) const { return end(part) - begin(part); }
  int64_t max_size() const { return base_ + (extra_ > 0 ? 1 : 0); }

  // The part whose range holds `row`; row must be in [0, num_rows).
  int owner(int64_t row) const;

 private:
  int64_t num_rows_;
  int num_parts_;
  int64_t base_;   // rows in every part
  int64_t extra_;  // parts [0, extra_) hold base_ + 1 rows
};

}  // namespace mw
