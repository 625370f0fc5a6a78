// The element-wise passes over a block of cosine logits, fused so each element is read and
// written once per pass. Plain C++ on raw row-major host memory: this file is compiled with
// vector math (libmvec exp) and dispatched per CPU (AVX2 where present); callers split
// rows across threads. softmax_rows_cuda.h is the device counterpart.
//
// S is how the block is stored (float, double, or c10::BFloat16 for mixed precision), A the
// type of the arithmetic and of the per-row statistics (float, or double for double blocks).
#pragma once

#include <cstdint>

namespace mw {

// For each row i of the [rows x cols] block u (leading dimension ld) of cosines:
//   new_max   = max(row_max[i], max_j u_ij * inv_tau)
//   rescale[i] = exp(row_max[i] - new_max)
//   row_sum[i] = row_sum[i] * rescale[i] + sum_j exp(u_ij * inv_tau - new_max)
//   u_ij      := exp(u_ij * inv_tau - new_max)
//   row_max[i] = new_max
// Start row_max at any finite value <= the smallest logit (e.g. -inv_tau for cosines):
// this file assumes finite math, and an online max tolerates any starting reference.
template <typename S, typename A>
void OnlineSoftmaxRows(S* u, int64_t rows, int64_t cols, int64_t ld, A inv_tau, A* row_max,
                       A* row_sum, A* rescale);

// u_ij := exp(u_ij * inv_tau - shift[i]).
template <typename S, typename A>
void ExpShiftedRows(S* u, int64_t rows, int64_t cols, int64_t ld, A inv_tau, const A* shift);

}  // namespace mw
