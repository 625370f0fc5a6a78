// The element-wise passes over a block of cosine logits, fused so each element is read and
// written once per pass. Plain C++ on raw row-major memory: this file is compiled with
// vector math (libmvec exp) and dispatched per CPU (AVX2 where present); callers split
// rows across threads.
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
template <typename T>
void OnlineSoftmaxRows(T* u, int64_t rows, int64_t cols, int64_t ld, T inv_tau, T* row_max,
                       T* row_sum, T* rescale);

// u_ij := exp(u_ij * inv_tau - shift[i]).
template <typename T>
void ExpShiftedRows(T* u, int64_t rows, int64_t cols, int64_t ld, T inv_tau, const T* shift);

}  // namespace mw
