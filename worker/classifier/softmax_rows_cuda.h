// The device counterpart of softmax_rows.h: the same two passes over a [rows x cols] block
// of cosines in GPU memory, as CUDA kernels on raw pointers (softmax_rows_cuda.cu, compiled by
// nvcc without LibTorch). One thread block per row; the row is read once into registers when
// it has at most kRegisterCols columns, so the online max, the exponentials and the sum come
// from one read and one write of the block. The statistics are fp32; the block is fp32 or
// bf16 (mixed precision). Calls are asynchronous on `stream` (a cudaStream_t).
#pragma once

#include <cstdint>

#include "common/status.h"

namespace mw::cuda {

enum class BlockType { kFloat32, kBfloat16 };

constexpr int64_t kRegisterCols = 4096;

Status OnlineSoftmaxRows(BlockType type, void* u, int64_t rows, int64_t cols, int64_t ld,
                         float inv_tau, float* row_max, float* row_sum, float* rescale,
                         void* stream);

Status ExpShiftedRows(BlockType type, void* u, int64_t rows, int64_t cols, int64_t ld,
                      float inv_tau, const float* shift, void* stream);

}  // namespace mw::cuda
