#include "worker/classifier/smoothed_targets.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "worker/classifier/row_normalization.h"

namespace mw {

SmoothedTargets::SmoothedTargets(const at::Tensor& labels, int64_t row_begin, int64_t row_end,
                                 double smoothing, at::ScalarType dtype) {
  const int64_t batch = labels.size(0);
  const int64_t k = labels.size(1) - 1;
  // With alpha = 0 the neighbours carry no mass: keep only the positives.
  const int64_t columns = smoothing > 0 ? k + 1 : 1;
  at::Tensor used = labels.narrow(1, 0, columns);
  at::Tensor column_value = at::full({columns}, k > 0 ? smoothing / static_cast<double>(k) : 0.0,
                                     labels.options().dtype(dtype));
  column_value[0] = 1.0 - smoothing;

  at::Tensor flat_rows = used.reshape(-1);
  at::Tensor keep = (flat_rows >= row_begin).logical_and_(flat_rows < row_end);
  at::Tensor sample_of = at::arange(batch, labels.options()).unsqueeze(1).expand({batch, columns});
  at::Tensor rows = flat_rows.masked_select(keep) - row_begin;
  at::Tensor samples = sample_of.reshape(-1).masked_select(keep);
  at::Tensor values =
      column_value.unsqueeze(0).expand({batch, columns}).reshape(-1).masked_select(keep);

  at::Tensor order = std::get<1>(rows.sort(/*stable=*/true, /*dim=*/0, /*descending=*/false));
  rows_ = rows.index_select(0, order).contiguous();
  host_rows_ = rows_.cpu();
  samples_ = samples.index_select(0, order);
  values_ = values.index_select(0, order);
}

std::pair<int64_t, int64_t> SmoothedTargets::EntriesIn(int64_t begin, int64_t end) const {
  const int64_t* rows = host_rows_.data_ptr<int64_t>();
  const int64_t n = host_rows_.numel();
  const int64_t first = std::lower_bound(rows, rows + n, begin) - rows;
  const int64_t last = std::lower_bound(rows + first, rows + n, end) - rows;
  return {first, last};
}

at::Tensor SmoothedTargets::UnitTargetRows(const at::Tensor& weights) const {
  return NormalizeRows(weights.index_select(0, rows_)).unit;
}

at::Tensor SmoothedTargets::CosineSums(const at::Tensor& x, const at::Tensor& weights) const {
  at::Tensor sums = at::zeros({x.size(0)}, x.options());
  if (rows_.numel() == 0) return sums;
  at::Tensor cos = (x.index_select(0, samples_) * UnitTargetRows(weights)).sum(1);
  return sums.index_add_(0, samples_, cos * values_);
}

void SmoothedTargets::AddToFeatureGrad(at::Tensor& grad_x, const at::Tensor& weights,
                                       double scale) const {
  if (rows_.numel() == 0) return;
  grad_x.index_add_(0, samples_, UnitTargetRows(weights) * (values_ * scale).unsqueeze(1));
}

void SmoothedTargets::AddToWeightGrad(at::Tensor& grad_w_hat, int64_t block_begin,
                                      const at::Tensor& x, double scale) const {
  const auto [first, last] = EntriesIn(block_begin, block_begin + grad_w_hat.size(0));
  if (first == last) return;
  const int64_t n = last - first;
  at::Tensor rows = rows_.narrow(0, first, n) - block_begin;
  at::Tensor weighted = x.index_select(0, samples_.narrow(0, first, n)) *
                        (values_.narrow(0, first, n) * scale).unsqueeze(1);
  grad_w_hat.index_add_(0, rows, weighted);
}

}  // namespace mw
