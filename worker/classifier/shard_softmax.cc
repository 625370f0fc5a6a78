#include "worker/classifier/shard_softmax.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <utility>

#include "worker/classifier/row_normalization.h"
#include "worker/classifier/softmax_blocks.h"

namespace mw {

ShardSoftmax::ShardSoftmax(at::Tensor weights, double temperature, int64_t chunk_rows,
                           int64_t cache_bytes, at::ScalarType block_type)
    : weights_(std::move(weights)),
      temperature_(temperature),
      chunk_rows_(chunk_rows),
      cache_bytes_(cache_bytes),
      block_type_(block_type) {}

at::Tensor ShardSoftmax::InBlockType(const at::Tensor& t) const {
  return t.scalar_type() == block_type_ ? t : t.to(block_type_);
}

int64_t ShardSoftmax::ChunkRows() const {
  return chunk_rows_ == 0 ? rows() : std::min(chunk_rows_, rows());
}

at::Tensor ShardSoftmax::Workspace(int64_t batch, int64_t cols) {
  const int64_t need = batch * cols;
  if (!workspace_.defined() || workspace_.numel() < need) {
    workspace_ = at::empty({need}, weights_.options().dtype(block_type_));
  }
  return workspace_.narrow(0, 0, need).view({batch, cols});
}

at::Tensor ShardSoftmax::ChunkBlock(int64_t chunk, int64_t batch, int64_t cols) {
  if (chunk >= cached_chunks_) return Workspace(batch, cols);
  return cache_.narrow(0, chunk * batch * ChunkRows(), batch * cols).view({batch, cols});
}

ShardSoftmaxStats ShardSoftmax::Forward(const at::Tensor& x) {
  const int64_t batch = x.size(0);
  const int64_t chunk = ChunkRows();
  const int64_t num_chunks = (rows() + chunk - 1) / chunk;
  const int64_t block_bytes = batch * chunk * static_cast<int64_t>(c10::elementSize(block_type_));
  cached_chunks_ = cache_bytes_ < 0 ? num_chunks : std::min(num_chunks, cache_bytes_ / block_bytes);
  if (cached_chunks_ > 0) {
    const int64_t need = cached_chunks_ * batch * chunk;
    if (!cache_.defined() || cache_.numel() < need) {
      cache_ = at::empty({need}, x.options().dtype(block_type_));
    }
    cache_max_ = at::empty({cached_chunks_, batch}, x.options());
  }

  const double inv_tau = 1.0 / temperature_;
  // Cosines are >= -1, so -1/tau is a lower bound of every logit: a finite starting max.
  ShardSoftmaxStats stats{at::full({batch}, -inv_tau, x.options()), at::zeros({batch}, x.options()),
                          at::zeros({batch, x.size(1)}, x.options())};
  at::Tensor rescale = at::empty({batch}, x.options());
  const at::Tensor x_block = InBlockType(x);
  const bool mixed = block_type_ != x.scalar_type();
  for (int64_t c = 0; c < num_chunks; ++c) {
    const int64_t begin = c * chunk;
    const int64_t n = std::min(chunk, rows() - begin);
    NormalizedRows w = NormalizeRows(weights_.narrow(0, begin, n));
    const at::Tensor w_block = InBlockType(w.unit);
    at::Tensor block = ChunkBlock(c, batch, n);
    at::mm_out(block, x_block, w_block.t());
    OnlineSoftmaxBlock(block, inv_tau, stats.row_max, stats.row_sum, rescale);
    if (c > 0) stats.exp_weights.mul_(rescale.unsqueeze(1));
    if (mixed) {
      stats.exp_weights.add_(block.mm(w_block));
    } else {
      stats.exp_weights.addmm_(block, w.unit);
    }
    if (c < cached_chunks_) cache_max_[c].copy_(stats.row_max);
  }
  return stats;
}

void ShardSoftmax::Backward(const at::Tensor& x, const at::Tensor& global_max,
                            const at::Tensor& global_sum, double grad_scale,
                            const SmoothedTargets& targets, const ChunkSink& sink) {
  const int64_t batch = x.size(0);
  const int64_t chunk = ChunkRows();
  const double inv_tau = 1.0 / temperature_;
  // p_ij = exp(z_ij - ref_i) * exp(ref_i - M_i) / S_i: the per-row factor moves onto x (a
  // [B, d] scaling), so the [B, chunk] block is touched once, by the matrix product.
  const at::Tensor coef = global_sum.reciprocal().mul_(grad_scale);
  const at::Tensor recomputed_x = InBlockType(x * coef.unsqueeze(1));
  const at::Tensor x_block = InBlockType(x);
  for (int64_t c = 0; c * chunk < rows(); ++c) {
    const int64_t begin = c * chunk;
    const int64_t n = std::min(chunk, rows() - begin);
    NormalizedRows w = NormalizeRows(weights_.narrow(0, begin, n));
    at::Tensor exp_block = ChunkBlock(c, batch, n);
    at::Tensor scaled_x = recomputed_x;
    if (c < cached_chunks_) {
      scaled_x = InBlockType(x * ((cache_max_[c] - global_max).exp_() * coef).unsqueeze(1));
    } else {
      at::mm_out(exp_block, x_block, InBlockType(w.unit).t());
      ExpShiftedBlock(exp_block, inv_tau, global_max);
    }
    at::Tensor grad_unit = exp_block.t().mm(scaled_x).to(x.scalar_type());
    targets.AddToWeightGrad(grad_unit, begin, x, -grad_scale);
    sink(begin, NormalizeRowsBackward(w, std::move(grad_unit)));
  }
}

}  // namespace mw
