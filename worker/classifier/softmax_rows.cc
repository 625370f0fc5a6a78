#include "worker/classifier/softmax_rows.h"

#include <algorithm>
#include <cmath>

// Compiled with -ffast-math (see CMakeLists.txt) so that glibc declares its vector exp
// (libmvec) and the loops below vectorise.
#include "worker/classifier/cpu_dispatch.h"

namespace mw {

namespace {

template <typename T>
MW_CPU_CLONES T RowMax(const T* row, int64_t cols, T init) {
  T max = init;
#pragma omp simd reduction(max : max)
  for (int64_t j = 0; j < cols; ++j) max = row[j] > max ? row[j] : max;
  return max;
}

template <typename T>
MW_CPU_CLONES T ExpShiftedRow(T* row, int64_t cols, T inv_tau, T shift) {
  T sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < cols; ++j) {
    const T e = std::exp(row[j] * inv_tau - shift);
    row[j] = e;
    sum += e;
  }
  return sum;
}

}  // namespace

template <typename T>
void OnlineSoftmaxRows(T* u, int64_t rows, int64_t cols, int64_t ld, T inv_tau, T* row_max,
                       T* row_sum, T* rescale) {
  for (int64_t i = 0; i < rows; ++i) {
    T* row = u + i * ld;
    // inv_tau > 0, so the largest logit is the largest cosine times inv_tau.
    const T new_max = std::max(row_max[i], RowMax(row, cols, row[0]) * inv_tau);
    rescale[i] = std::exp(row_max[i] - new_max);
    row_sum[i] = row_sum[i] * rescale[i] + ExpShiftedRow(row, cols, inv_tau, new_max);
    row_max[i] = new_max;
  }
}

template <typename T>
void ExpShiftedRows(T* u, int64_t rows, int64_t cols, int64_t ld, T inv_tau, const T* shift) {
  for (int64_t i = 0; i < rows; ++i) ExpShiftedRow(u + i * ld, cols, inv_tau, shift[i]);
}

template void OnlineSoftmaxRows<float>(float*, int64_t, int64_t, int64_t, float, float*, float*,
                                       float*);
template void OnlineSoftmaxRows<double>(double*, int64_t, int64_t, int64_t, double, double*,
                                        double*, double*);
template void ExpShiftedRows<float>(float*, int64_t, int64_t, int64_t, float, const float*);
template void ExpShiftedRows<double>(double*, int64_t, int64_t, int64_t, double, const double*);

}  // namespace mw
