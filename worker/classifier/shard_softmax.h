// ShardSoftmax: the cosine softmax of a batch against one block of classifier rows,
// computed in chunks of rows so memory stays O(B x chunk).
//
// Forward makes one pass over the chunks with an online max and sum (as in FlashAttention)
// and, in the same pass, accumulates sum_j exp(z_ij - max_i) w_hat_j: the feature gradient
// up to a per-row factor that is known once the global max and sum are. Backward needs each
// probability, hence the global sum, so it recomputes each chunk's logits unless the whole
// shard fits in one chunk, whose exponentials forward keeps.
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
  // weights: the raw rows [rows, d], shared (Backward's sink may update them block by block).
  // chunk_rows = 0 or >= rows: one chunk, logits kept for backward.
  ShardSoftmax(at::Tensor weights, double temperature, int64_t chunk_rows);

  // x: [B, d] unit rows.
  ShardSoftmaxStats Forward(const at::Tensor& x);

  // Receives each block's gradient w.r.t. the raw rows [begin, begin + n).
  using BlockSink = std::function<void(int64_t begin, const at::Tensor& grad_weights)>;

  // With p_ij = exp(z_ij - global_max_i) / global_sum_i and y the smoothed targets, hands
  // `sink` each block of grad_scale * sum_i (p_ij - y_ij) x_i, pulled back through the row
  // normalisation to the raw rows. For the mean loss over B samples, grad_scale = 1 / (B tau).
  void Backward(const at::Tensor& x, const at::Tensor& global_max, const at::Tensor& global_sum,
                double grad_scale, const SmoothedTargets& targets, const BlockSink& sink);

  int64_t rows() const { return weights_.size(0); }

 private:
  int64_t ForwardChunk() const;
  at::Tensor Workspace(int64_t batch, int64_t cols);

  at::Tensor weights_;
  double temperature_;
  int64_t chunk_rows_;
  at::Tensor workspace_;   // flat, reused across steps: B x chunk logits
  at::Tensor kept_max_;    // forward's row_max, when the exponentials are kept
  bool kept_ = false;
};

}  // namespace mw
