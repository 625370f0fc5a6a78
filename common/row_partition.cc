#include "common/row_partition.h"

namespace mw {

RowPartition::RowPartition(int64_t num_rows, int num_parts)
    : num_rows_(num_rows),
      num_parts_(num_parts),
      base_(num_rows / num_parts),
      extra_(num_rows % num_parts) {}

int64_t RowPartition::begin(int part) const {
  return part * base_ + (part < extra_ ? part : extra_);
}

int RowPartition::owner(int64_t row) const {
  const int64_t boundary = extra_ * (base_ + 1);
  if (row < boundary) return static_cast<int>(row / (base_ + 1));
  return static_cast<int>(extra_ + (row - boundary) / base_);
}

}  // namespace mw
