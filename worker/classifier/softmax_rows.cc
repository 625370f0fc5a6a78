#include "worker/classifier/softmax_rows.h"

#include <c10/util/BFloat16.h>

#include <algorithm>
#include <cmath>

// Compiled with -ffast-math (see CMakeLists.txt) so that glibc declares its vector exp
// (libmvec) and the loops below vectorise.
#include "worker/classifier/cpu_dispatch.h"

namespace mw {

namespace {

template <typename S, typename A>
MW_CPU_CLONES A RowMax(const S* row, int64_t cols, A init) {
  A max = init;
#pragma omp simd reduction(max : max)
  for (int64_t j = 0; j < cols; ++j) {
    const A v = static_cast<A>(row[j]);
    max = v > max ? v : max;
  }
  return max;
}

template <typename S, typename A>
MW_CPU_CLONES A ExpShiftedRow(S* row, int64_t cols, A inv_tau, A shift) {
  A sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < cols; ++j) {
    const A e = std::exp(static_cast<A>(row[j]) * inv_tau - shift);
    row[j] = static_cast<S>(e);
    sum += e;
  }
  return sum;
}

}  // namespace

template <typename S, typename A>
void OnlineSoftmaxRows(S* u, int64_t rows, int64_t cols, int64_t ld, A inv_tau, A* row_max,
                       A* row_sum, A* rescale) {
  for (int64_t i = 0; i < rows; ++i) {
    S* row = u + i * ld;
    // inv_tau > 0, so the largest logit is the largest cosine times inv_tau.
    const A new_max = std::max(row_max[i], RowMax(row, cols, static_cast<A>(row[0])) * inv_tau);
    rescale[i] = std::exp(row_max[i] - new_max);
    row_sum[i] = row_sum[i] * rescale[i] + ExpShiftedRow(row, cols, inv_tau, new_max);
    row_max[i] = new_max;
  }
}

template <typename S, typename A>
void ExpShiftedRows(S* u, int64_t rows, int64_t cols, int64_t ld, A inv_tau, const A* shift) {
  for (int64_t i = 0; i < rows; ++i) ExpShiftedRow(u + i * ld, cols, inv_tau, shift[i]);
}

template void OnlineSoftmaxRows<float, float>(float*, int64_t, int64_t, int64_t, float, float*,
                                              float*, float*);
template void OnlineSoftmaxRows<double, double>(double*, int64_t, int64_t, int64_t, double, double*,
                                                double*, double*);
template void OnlineSoftmaxRows<c10::BFloat16, float>(c10::BFloat16*, int64_t, int64_t, int64_t,
                                                      float, float*, float*, float*);
template void ExpShiftedRows<float, float>(float*, int64_t, int64_t, int64_t, float, const float*);
template void ExpShiftedRows<double, double>(double*, int64_t, int64_t, int64_t, double,
                                             const double*);
template void ExpShiftedRows<c10::BFloat16, float>(c10::BFloat16*, int64_t, int64_t, int64_t, float,
                                                   const float*);

}  // namespace mw
