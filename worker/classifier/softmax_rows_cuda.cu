#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cfloat>
#include <string>

#include "worker/classifier/softmax_rows_cuda.h"

namespace mw::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kItems = static_cast<int>(kRegisterCols / kThreads);

__device__ __forceinline__ float Load(const float* p) { return *p; }
__device__ __forceinline__ float Load(const __nv_bfloat16* p) { return __bfloat162float(*p); }
__device__ __forceinline__ void Store(float* p, float v) { *p = v; }
__device__ __forceinline__ void Store(__nv_bfloat16* p, float v) { *p = __float2bfloat16(v); }

// Reduces one value per thread over the thread block; every thread gets the result.
template <bool kMax>
__device__ float BlockReduce(float value) {
  __shared__ float partial[kThreads / 32];
  __shared__ float result;
  for (int offset = 16; offset > 0; offset /= 2) {
    const float other = __shfl_xor_sync(0xffffffffu, value, offset);
    value = kMax ? fmaxf(value, other) : value + other;
  }
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) partial[warp] = value;
  __syncthreads();
  if (warp == 0) {
    value = lane < kThreads / 32 ? partial[lane] : (kMax ? -FLT_MAX : 0.0f);
    for (int offset = 16; offset > 0; offset /= 2) {
      const float other = __shfl_xor_sync(0xffffffffu, value, offset);
      value = kMax ? fmaxf(value, other) : value + other;
    }
    if (lane == 0) result = value;
  }
  __syncthreads();
  const float out = result;
  __syncthreads();  // `partial` and `result` are reused by the next reduction
  return out;
}

// The row's statistics once its exponentials are written: the sum over the thread block, and
// the running sum rescaled to the new max.
__device__ void FinishRow(float old_max, float new_max, float local_sum, float* row_max,
                          float* row_sum, float* rescale) {
  const float sum = BlockReduce<false>(local_sum);
  if (threadIdx.x == 0) {
    const float scale = __expf(old_max - new_max);
    rescale[blockIdx.x] = scale;
    row_sum[blockIdx.x] = row_sum[blockIdx.x] * scale + sum;
    row_max[blockIdx.x] = new_max;
  }
}

// Rows that fit the registers: one read, one write.
template <typename S>
__global__ void OnlineSoftmaxRowsInRegisters(S* u, int64_t cols, int64_t ld, float inv_tau,
                                             float* row_max, float* row_sum, float* rescale) {
  S* row = u + blockIdx.x * ld;
  float v[kItems];
  float local_max = -FLT_MAX;
#pragma unroll
  for (int k = 0; k < kItems; ++k) {
    const int64_t j = threadIdx.x + static_cast<int64_t>(k) * kThreads;
    v[k] = j < cols ? Load(row + j) * inv_tau : -FLT_MAX;
    local_max = fmaxf(local_max, v[k]);
  }
  const float old_max = row_max[blockIdx.x];
  const float new_max = fmaxf(old_max, BlockReduce<true>(local_max));
  float local_sum = 0;
#pragma unroll
  for (int k = 0; k < kItems; ++k) {
    const int64_t j = threadIdx.x + static_cast<int64_t>(k) * kThreads;
    if (j < cols) {
      const float e = __expf(v[k] - new_max);
      Store(row + j, e);
      local_sum += e;
    }
  }
  FinishRow(old_max, new_max, local_sum, row_max, row_sum, rescale);
}

// Longer rows: the max pass reads the row, the exponent pass reads it again (mostly from L2).
template <typename S>
__global__ void OnlineSoftmaxRowsStreamed(S* u, int64_t cols, int64_t ld, float inv_tau,
                                          float* row_max, float* row_sum, float* rescale) {
  S* row = u + blockIdx.x * ld;
  float local_max = -FLT_MAX;
  for (int64_t j = threadIdx.x; j < cols; j += kThreads) local_max = fmaxf(local_max, Load(row + j));
  const float old_max = row_max[blockIdx.x];
  const float new_max = fmaxf(old_max, BlockReduce<true>(local_max) * inv_tau);
  float local_sum = 0;
  for (int64_t j = threadIdx.x; j < cols; j += kThreads) {
    const float e = __expf(Load(row + j) * inv_tau - new_max);
    Store(row + j, e);
    local_sum += e;
  }
  FinishRow(old_max, new_max, local_sum, row_max, row_sum, rescale);
}

template <typename S>
__global__ void ExpShiftedRowsKernel(S* u, int64_t cols, int64_t ld, float inv_tau,
                                     const float* shift) {
  S* row = u + blockIdx.x * ld;
  const float s = shift[blockIdx.x];
  for (int64_t j = threadIdx.x; j < cols; j += kThreads) Store(row + j, __expf(Load(row + j) * inv_tau - s));
}

Status LaunchStatus(const char* kernel) {
  const cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess) return Status::Ok();
  return Status::Internal(std::string(kernel) + ": " + cudaGetErrorString(err));
}

Status CheckShape(int64_t rows, int64_t cols, int64_t ld) {
  if (rows < 0 || cols < 1 || ld < cols || rows > 0x7fffffff) {
    return Status::InvalidArgument("softmax rows: a block of " + std::to_string(rows) + " x " +
                                   std::to_string(cols) + " (ld " + std::to_string(ld) +
                                   ") is not a valid row-major block");
  }
  return Status::Ok();
}

template <typename S>
void LaunchOnline(S* u, int64_t rows, int64_t cols, int64_t ld, float inv_tau, float* row_max,
                  float* row_sum, float* rescale, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(rows));
  if (cols <= kRegisterCols) {
    OnlineSoftmaxRowsInRegisters<S>
        <<<grid, kThreads, 0, stream>>>(u, cols, ld, inv_tau, row_max, row_sum, rescale);
  } else {
    OnlineSoftmaxRowsStreamed<S>
        <<<grid, kThreads, 0, stream>>>(u, cols, ld, inv_tau, row_max, row_sum, rescale);
  }
}

}  // namespace

Status OnlineSoftmaxRows(BlockType type, void* u, int64_t rows, int64_t cols, int64_t ld,
                         float inv_tau, float* row_max, float* row_sum, float* rescale,
                         void* stream) {
  MW_RETURN_IF_ERROR(CheckShape(rows, cols, ld));
  if (rows == 0) return Status::Ok();
  auto s = static_cast<cudaStream_t>(stream);
  if (type == BlockType::kBfloat16) {
    LaunchOnline(static_cast<__nv_bfloat16*>(u), rows, cols, ld, inv_tau, row_max, row_sum,
                 rescale, s);
  } else {
    LaunchOnline(static_cast<float*>(u), rows, cols, ld, inv_tau, row_max, row_sum, rescale, s);
  }
  return LaunchStatus("OnlineSoftmaxRows");
}

Status ExpShiftedRows(BlockType type, void* u, int64_t rows, int64_t cols, int64_t ld,
                      float inv_tau, const float* shift, void* stream) {
  MW_RETURN_IF_ERROR(CheckShape(rows, cols, ld));
  if (rows == 0) return Status::Ok();
  auto s = static_cast<cudaStream_t>(stream);
  const dim3 grid(static_cast<unsigned>(rows));
  if (type == BlockType::kBfloat16) {
    ExpShiftedRowsKernel<<<grid, kThreads, 0, s>>>(static_cast<__nv_bfloat16*>(u), cols, ld,
                                                    inv_tau, shift);
  } else {
    ExpShiftedRowsKernel<<<grid, kThreads, 0, s>>>(static_cast<float*>(u), cols, ld, inv_tau,
                                                    shift);
  }
  return LaunchStatus("ExpShiftedRows");
}

}  // namespace mw::cuda
