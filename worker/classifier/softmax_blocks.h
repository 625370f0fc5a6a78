// The passes of softmax_rows.h applied to a block tensor wherever it lives: on the CPU split
// over LibTorch's intra-op threads, on a GPU as the kernels of softmax_rows_cuda.h on
// LibTorch's current stream. The block is [rows, cols], contiguous, stored as float, double or
// bf16; the per-row statistics are float (double for a double block), on the block's device.
#pragma once

#include <ATen/core/Tensor.h>

namespace mw {

// OnlineSoftmaxRows over `block`, updating row_max and row_sum and filling rescale ([rows]).
void OnlineSoftmaxBlock(at::Tensor& block, double inv_tau, at::Tensor& row_max, at::Tensor& row_sum,
                        at::Tensor& rescale);

// block_ij := exp(block_ij * inv_tau - shift_i).
void ExpShiftedBlock(at::Tensor& block, double inv_tau, const at::Tensor& shift);

}  // namespace mw
