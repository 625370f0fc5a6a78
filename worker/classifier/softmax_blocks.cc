#include "worker/classifier/softmax_blocks.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>

#include "worker/classifier/softmax_rows.h"
#ifdef MW_TORCH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "worker/classifier/softmax_rows_cuda.h"
#endif

namespace mw {

namespace {

// Splits the rows of a [rows, cols] block over LibTorch's intra-op threads.
template <typename Fn>
void ForRowRanges(int64_t rows, int64_t cols, Fn&& fn) {
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(cols, 1));
  at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) { fn(begin, end); });
}

// Calls fn(S* block, A* ...) with S the block's storage type and A its arithmetic type.
template <typename Fn>
void DispatchHostBlock(const at::Tensor& block, Fn&& fn) {
  switch (block.scalar_type()) {
    case at::kFloat:
      return fn(block.data_ptr<float>(), float{});
    case at::kDouble:
      return fn(block.data_ptr<double>(), double{});
    case at::kBFloat16:
      return fn(block.data_ptr<at::BFloat16>(), float{});
    default:
      TORCH_CHECK(false, "softmax blocks are float, double or bfloat16, not ", block.scalar_type());
  }
}

#ifdef MW_TORCH_CUDA
cuda::BlockType DeviceBlockType(const at::Tensor& block) {
  TORCH_CHECK(block.scalar_type() == at::kFloat || block.scalar_type() == at::kBFloat16,
              "GPU softmax blocks are float or bfloat16, not ", block.scalar_type());
  return block.scalar_type() == at::kFloat ? cuda::BlockType::kFloat32 : cuda::BlockType::kBfloat16;
}

// The block's device's current stream; launches go to the block's device whatever device is
// current on this thread (the guard in each caller).
void* CurrentStream(const at::Tensor& block) {
  return at::cuda::getCurrentCUDAStream(block.device().index()).stream();
}

void Check(const Status& status) { TORCH_CHECK(status.ok(), status.message()); }
#endif

}  // namespace

void OnlineSoftmaxBlock(at::Tensor& block, double inv_tau, at::Tensor& row_max, at::Tensor& row_sum,
                        at::Tensor& rescale) {
  const int64_t rows = block.size(0), cols = block.size(1);
#ifdef MW_TORCH_CUDA
  if (block.is_cuda()) {
    const c10::cuda::CUDAGuard guard(block.device());
    Check(cuda::OnlineSoftmaxRows(DeviceBlockType(block), block.data_ptr(), rows, cols, cols,
                                  static_cast<float>(inv_tau), row_max.data_ptr<float>(),
                                  row_sum.data_ptr<float>(), rescale.data_ptr<float>(),
                                  CurrentStream(block)));
    return;
  }
#endif
  DispatchHostBlock(block, [&](auto* data, auto accumulate) {
    using A = decltype(accumulate);
    A* max = row_max.data_ptr<A>();
    A* sum = row_sum.data_ptr<A>();
    A* scale = rescale.data_ptr<A>();
    ForRowRanges(rows, cols, [&](int64_t b0, int64_t b1) {
      OnlineSoftmaxRows(data + b0 * cols, b1 - b0, cols, cols, static_cast<A>(inv_tau), max + b0,
                        sum + b0, scale + b0);
    });
  });
}

void ExpShiftedBlock(at::Tensor& block, double inv_tau, const at::Tensor& shift) {
  const int64_t rows = block.size(0), cols = block.size(1);
#ifdef MW_TORCH_CUDA
  if (block.is_cuda()) {
    const c10::cuda::CUDAGuard guard(block.device());
    Check(cuda::ExpShiftedRows(DeviceBlockType(block), block.data_ptr(), rows, cols, cols,
                               static_cast<float>(inv_tau), shift.data_ptr<float>(),
                               CurrentStream(block)));
    return;
  }
#endif
  DispatchHostBlock(block, [&](auto* data, auto accumulate) {
    using A = decltype(accumulate);
    const A* s = shift.data_ptr<A>();
    ForRowRanges(rows, cols, [&](int64_t b0, int64_t b1) {
      ExpShiftedRows(data + b0 * cols, b1 - b0, cols, cols, static_cast<A>(inv_tau), s + b0);
    });
  });
}

}  // namespace mw
