// SmoothedTargets: the non-zero entries of the label matrix y that fall in one row range.
//
// Sample i's label puts 1 - alpha on its own instance id and alpha / k on each of its k
// hardest classes; every other entry is zero. A rank only ever touches the entries whose
// class it owns, kept here sorted by row so each block of the shard finds its own by
// binary search.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <utility>

namespace mw {

class SmoothedTargets {
 public:
  // labels: [B, 1 + k] int64, column 0 the instance id, then its k neighbours (global rows).
  // Keeps the entries with row in [row_begin, row_end); values in `dtype`.
  SmoothedTargets(const at::Tensor& labels, int64_t row_begin, int64_t row_end, double smoothing,
                  at::ScalarType dtype);

  // Per sample: sum_j y_ij * <x_i, w_hat_j> over the kept entries ([B], zero for samples
  // with none here). x: [B, d] unit rows; weights: the raw local rows [rows, d].
  at::Tensor CosineSums(const at::Tensor& x, const at::Tensor& weights) const;

  // grad_x[i] += scale * sum_j y_ij * w_hat_j over the kept entries.
  void AddToFeatureGrad(at::Tensor& grad_x, const at::Tensor& weights, double scale) const;

  // grad_w_hat[j - block_begin] += scale * sum_i y_ij * x_i for kept rows in the block
  // [block_begin, block_begin + grad_w_hat.size(0)) (local row numbers).
  void AddToWeightGrad(at::Tensor& grad_w_hat, int64_t block_begin, const at::Tensor& x,
                       double scale) const;

 private:
  // [first, last) indices of the entries whose local row lies in [begin, end).
  std::pair<int64_t, int64_t> EntriesIn(int64_t begin, int64_t end) const;
  at::Tensor UnitTargetRows(const at::Tensor& weights) const;

  at::Tensor samples_;    // [T] int64
  at::Tensor rows_;       // [T] int64, local row numbers, ascending
  at::Tensor host_rows_;  // rows_ in host memory, searched by EntriesIn
  at::Tensor values_;     // [T] y_ij
};

}  // namespace mw
