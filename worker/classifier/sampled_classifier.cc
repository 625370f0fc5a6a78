#include "worker/classifier/sampled_classifier.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "common/split_mix.h"
#include "worker/classifier/shard_softmax.h"
#include "worker/classifier/smoothed_targets.h"

namespace mw {

SampledClassifier::SampledClassifier(const ClassifierConfig& config, Communicator* comm,
                                     int64_t row_begin, int64_t row_end)
    : ShardedClassifier(config, comm, row_begin, row_end),
      // The draw is split over ranks in proportion to their rows, so the subset is uniform
      // over all N whatever W is.
      draws_(std::llround(static_cast<double>(config.sampled_classes) *
                          static_cast<double>(row_end - row_begin) /
                          static_cast<double>(config.num_classes))),
      generator_(at::make_generator<at::CPUGeneratorImpl>(
          MixSeed(config.sampling_seed, 0x5a3b1ed, static_cast<uint64_t>(comm->rank())))) {}

at::Tensor SampledClassifier::ChooseRows(const at::Tensor& labels) {
  const int64_t rows = row_end_ - row_begin_;
  const auto longs = at::TensorOptions().dtype(at::kLong);
  at::Tensor flat = labels.reshape(-1).cpu();
  at::Tensor own =
      flat.masked_select((flat >= row_begin_).logical_and_(flat < row_end_)) - row_begin_;
  at::Tensor drawn = at::randperm(rows, generator_, longs).narrow(0, 0, std::min(draws_, rows));
  return std::get<0>(at::_unique(at::cat({own, drawn}), /*sorted=*/true));
}

Status SampledClassifier::Step(const at::Tensor& features, const at::Tensor& ids,
                               const at::Tensor& neighbors, double lr, StepResult* result) {
  GlobalBatch batch;
  MW_RETURN_IF_ERROR(Gather(features, ids, neighbors, &batch));
  const at::Tensor chosen = ChooseRows(batch.labels).to(weights_.device());
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
