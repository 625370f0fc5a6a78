#include "worker/classifier/sampled_classifier.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "common/split_mix.h"
#include "worker/classifier/shard_softmax.h"
#include "worker/classifier/smoothed_targets.h"

namespace mw {

std::vector<int64_t> DrawDistinct(uint64_t seed, int64_t n, int64_t m) {
  SplitMix64 random(seed);
  std::unordered_set<int64_t> chosen;
  chosen.reserve(static_cast<size_t>(m));
  // For j = n - m .. n - 1, take a value of [0, j]; when it was taken already, j (which no
  // earlier round could take) instead. Each m-subset comes out with probability 1 / C(n, m).
  for (int64_t j = n - m; j < n; ++j) {
    const auto t = static_cast<int64_t>(random.Below(static_cast<uint64_t>(j) + 1));
    chosen.insert(chosen.count(t) ? j : t);
  }
  std::vector<int64_t> out(chosen.begin(), chosen.end());
  std::sort(out.begin(), out.end());
  return out;
}

SampledClassifier::SampledClassifier(const ClassifierConfig& config, Communicator* comm,
                                     int64_t row_begin, int64_t row_end)
    : ShardedClassifier(config, comm, row_begin, row_end),
      // The draw is split over ranks in proportion to their rows, so the subset is uniform
      // over all N whatever W is.
      draws_(std::llround(static_cast<double>(config.sampled_classes) *
                          static_cast<double>(row_end - row_begin) /
                          static_cast<double>(config.num_classes))) {}

at::Tensor SampledClassifier::ChooseRows(const at::Tensor& labels) {
  const int64_t rows = row_end_ - row_begin_;
  const auto longs = at::TensorOptions().dtype(at::kLong);
  at::Tensor flat = labels.reshape(-1).cpu();
  at::Tensor own =
      flat.masked_select((flat >= row_begin_).logical_and_(flat < row_end_)) - row_begin_;
  const uint64_t seed =
      MixSeed(config_.sampling_seed ^ 0x5a3b1ed, static_cast<uint64_t>(comm_->rank()),
              static_cast<uint64_t>(epoch_), static_cast<uint64_t>(step_));
  at::Tensor drawn = at::tensor(DrawDistinct(seed, rows, std::min(draws_, rows)), longs);
  return std::get<0>(at::_unique(at::cat({own, drawn}), /*sorted=*/true));
}

Status SampledClassifier::Step(const at::Tensor& features, const at::Tensor& ids,
                               const at::Tensor& neighbors, double lr, StepResult* result) {
  GlobalBatch batch;
  MW_RETURN_IF_ERROR(Gather(features, ids, neighbors, &batch));
  const at::Tensor chosen = ChooseRows(batch.labels).to(weights_.device());
  ++step_;
  last_classes_ = chosen.cpu() + row_begin_;
  at::Tensor rows = weights_.index_select(0, chosen);
  at::Tensor momentum = momentum_.index_select(0, chosen);
  ShardSoftmax softmax(rows, config_.temperature, config_.chunk_rows, config_.logit_cache_bytes,
                       BlockTypeOf(config_.precision));
  // Labels as positions among the chosen rows; every label this rank owns is among them, and
  // the others become -1, which the targets drop as out of range.
  const at::Tensor global = batch.labels;
  const at::Tensor position = at::searchsorted(chosen + row_begin_, global);
  const at::Tensor mine = (global >= row_begin_).logical_and_(global < row_end_);
  const SmoothedTargets targets(at::where(mine, position, at::full_like(position, -1)), 0,
                                rows.size(0), config_.smoothing, features.scalar_type());
  MW_RETURN_IF_ERROR(StepAgainst(batch, targets, rows, momentum, softmax, lr, result));
  weights_.index_copy_(0, chosen, rows);
  momentum_.index_copy_(0, chosen, momentum);
  if (keep_weight_grad_) {
    at::Tensor full = at::zeros_like(weights_);
    result->weight_grad = full.index_copy_(0, chosen, result->weight_grad);
  }
  return Status::Ok();
}

}  // namespace mw
