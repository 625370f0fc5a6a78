// ShardSoftmax: the cosine softmax of a batch against one block of classifier rows,
// computed in chunks of rows so that memory stays O(B x chunk) plus a bounded cache.
//
// Forward makes one pass over the chunks with an online max and sum (as FlashAttention does)
// and, in the same pass, accumulates sum_j exp(z_ij - max_i) w_hat_j: the feature gradient
// up to a per-row factor that is known once the global max and sum are. Backward needs each
// probability, hence the global sum: it reuses the exponentials of the chunks that fit the
// cache budget and recomputes the others.
//
// The blocks may be narrower than the rows (mixed precision): the matrix products then take
// their inputs in the block type and accumulate in fp32, while the statistics, the feature
// gradient and the row gradients stay in the rows' type.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>

#include "worker/classifier/smoothed_targets.h"

namespace mw {

struct ShardSoftmaxStats {
  at::Tensor row_max;      // [B]: max_j z_ij over this shard's classes (z = cosine / tau)
  at::Tensor row_sum;      // [B]: sum_j exp(z_ij - row_max_i)
  at::Tensor exp_weights;  // [B, d]: sum_j exp(z_ij - row_max_i) * w_hat_j
};

class ShardSoftmax {
 public:
  // weights: the raw rows [rows, d], shared (Backward's sink may update them chunk by chunk).
  // chunk_rows: 0 = the whole shard as one chunk. cache_bytes: -1 = keep every chunk.
  // block_type: the logits' type (the rows' own, or bf16).
  ShardSoftmax(at::Tensor weights, double temperature, int64_t chunk_rows, int64_t cache_bytes,
               at::ScalarType block_type);

  // x: [B, d] unit rows, in the rows' type and on their device.
  ShardSoftmaxStats Forward(const at::Tensor& x);

  // Receives each chunk's gradient w.r.t. the raw rows [begin, begin + n).
  using ChunkSink = std::function<void(int64_t begin, const at::Tensor& grad_weights)>;

  // With p_ij = exp(z_ij - global_max_i) / global_sum_i and y the smoothed targets, hands
  // `sink` each chunk of grad_scale * sum_i (p_ij - y_ij) x_i, pulled back through the row
  // normalisation to the raw rows. For the mean loss over B samples, grad_scale = 1 / (B tau).
  // x must be the batch of the preceding Forward.
  void Backward(const at::Tensor& x, const at::Tensor& global_max, const at::Tensor& global_sum,
                double grad_scale, const SmoothedTargets& targets, const ChunkSink& sink);

  int64_t rows() const { return weights_.size(0); }

 private:
  int64_t ChunkRows() const;
  // t in the block type (t itself when that is its type).
  at::Tensor InBlockType(const at::Tensor& t) const;
  at::Tensor Workspace(int64_t batch, int64_t cols);
  // The [B, n] block of chunk c: in the cache when c < cached_chunks_, else the workspace.
  at::Tensor ChunkBlock(int64_t chunk, int64_t batch, int64_t cols);

  at::Tensor weights_;
  double temperature_;
  int64_t chunk_rows_;
  int64_t cache_bytes_;
  at::ScalarType block_type_;
  at::Tensor workspace_;  // flat, reused across steps
  at::Tensor cache_;      // flat: cached_chunks_ blocks of B x chunk exponentials
  at::Tensor cache_max_;  // [cached_chunks_, B]: the running max each cached block used
  int64_t cached_chunks_ = 0;
};

}  // namespace mw
