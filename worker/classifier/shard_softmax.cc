#include "worker/classifier/shard_softmax.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <utility>

#include "worker/classifier/row_normalization.h"
#include "worker/classifier/softmax_rows.h"

namespace mw {

namespace {

// Splits the batch rows of a [B, cols] block over LibTorch's intra-op threads.
template <typename Fn>
void ForRowRanges(int64_t batch, int64_t cols, Fn&& fn) {
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(cols, 1));
  at::parallel_for(0, batch, grain, [&](int64_t begin, int64_t end) { fn(begin, end); });
}

}  // namespace

ShardSoftmax::ShardSoftmax(at::Tensor weights, double temperature, int64_t chunk_rows,
                           int64_t cache_bytes)
    : weights_(std::move(weights)),
      temperature_(temperature),
      chunk_rows_(chunk_rows),
      cache_bytes_(cache_bytes) {}

int64_t ShardSoftmax::ChunkRows() const {
  return chunk_rows_ == 0 ? rows() : std::min(chunk_rows_, rows());
}

at::Tensor ShardSoftmax::Workspace(int64_t batch, int64_t cols) {
  const int64_t need = batch * cols;
  if (!workspace_.defined() || workspace_.numel() < need ||
      workspace_.scalar_type() != weights_.scalar_type()) {
    workspace_ = at::empty({need}, weights_.options());
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
  const int64_t block_bytes = batch * chunk * static_cast<int64_t>(x.element_size());
  cached_chunks_ = cache_bytes_ < 0 ? num_chunks : std::min(num_chunks, cache_bytes_ / block_bytes);
  if (cached_chunks_ > 0) {
    const int64_t need = cached_chunks_ * batch * chunk;
    if (!cache_.defined() || cache_.numel() < need || cache_.scalar_type() != x.scalar_type()) {
      cache_ = at::empty({need}, x.options());
    }
    cache_max_ = at::empty({cached_chunks_, batch}, x.options());
  }

  const double inv_tau = 1.0 / temperature_;
  // Cosines are >= -1, so -1/tau is a lower bound of every logit: a finite starting max.
  ShardSoftmaxStats stats{at::full({batch}, -inv_tau, x.options()), at::zeros({batch}, x.options()),
                          at::zeros({batch, x.size(1)}, x.options())};
  at::Tensor rescale = at::empty({batch}, x.options());
  for (int64_t c = 0; c < num_chunks; ++c) {
    const int64_t begin = c * chunk;
    const int64_t n = std::min(chunk, rows() - begin);
    NormalizedRows w = NormalizeRows(weights_.narrow(0, begin, n));
    at::Tensor block = ChunkBlock(c, batch, n);
    at::mm_out(block, x, w.unit.t());
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "OnlineSoftmaxRows", [&] {
      scalar_t* data = block.data_ptr<scalar_t>();
      scalar_t* max = stats.row_max.data_ptr<scalar_t>();
      scalar_t* sum = stats.row_sum.data_ptr<scalar_t>();
      scalar_t* scale = rescale.data_ptr<scalar_t>();
      ForRowRanges(batch, n, [&](int64_t b0, int64_t b1) {
        OnlineSoftmaxRows<scalar_t>(data + b0 * n, b1 - b0, n, n, static_cast<scalar_t>(inv_tau),
                                    max + b0, sum + b0, scale + b0);
      });
    });
    if (c > 0) stats.exp_weights.mul_(rescale.unsqueeze(1));
    stats.exp_weights.addmm_(block, w.unit);
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
  const at::Tensor recomputed_x = x * coef.unsqueeze(1);
  for (int64_t c = 0; c * chunk < rows(); ++c) {
    const int64_t begin = c * chunk;
    const int64_t n = std::min(chunk, rows() - begin);
    NormalizedRows w = NormalizeRows(weights_.narrow(0, begin, n));
    at::Tensor exp_block = ChunkBlock(c, batch, n);
    at::Tensor scaled_x = recomputed_x;
    if (c < cached_chunks_) {
      scaled_x = x * ((cache_max_[c] - global_max).exp_() * coef).unsqueeze(1);
    } else {
      at::mm_out(exp_block, x, w.unit.t());
      AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "ExpShiftedRows", [&] {
        scalar_t* data = exp_block.data_ptr<scalar_t>();
        const scalar_t* shift = global_max.data_ptr<scalar_t>();
        ForRowRanges(batch, n, [&](int64_t b0, int64_t b1) {
          ExpShiftedRows<scalar_t>(data + b0 * n, b1 - b0, n, n, static_cast<scalar_t>(inv_tau),
                                   shift + b0);
        });
      });
    }
    at::Tensor grad_unit = exp_block.t().mm(scaled_x);
    targets.AddToWeightGrad(grad_unit, begin, x, -grad_scale);
    sink(begin, NormalizeRowsBackward(w, std::move(grad_unit)));
  }
}

}  // namespace mw
