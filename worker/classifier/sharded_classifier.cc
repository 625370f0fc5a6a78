#include "worker/classifier/sharded_classifier.h"

#include <ATen/ATen.h>

#include "worker/classifier/shard_softmax.h"
#include "worker/classifier/smoothed_targets.h"
#include "worker/comm/tensor_buffer.h"

namespace mw {

Status ShardedClassifier::Step(const at::Tensor& features, const at::Tensor& ids,
                               const at::Tensor& neighbors, double lr, StepResult* result) {
  GlobalBatch batch;
  MW_RETURN_IF_ERROR(Gather(features, ids, neighbors, &batch));
  const SmoothedTargets targets(batch.labels, row_begin_, row_end_, config_.smoothing,
                                features.scalar_type());
  return StepAgainst(batch, targets, weights_, momentum_, *softmax_, lr, result);
}

Status ShardedClassifier::Gather(const at::Tensor& features, const at::Tensor& ids,
                                 const at::Tensor& neighbors, GlobalBatch* out) {
  MW_RETURN_IF_ERROR(ValidateStepInputs(config_, features, ids, neighbors));
  const int64_t batch = features.size(0) * comm_->world_size();
  // 1-2. The unit features and labels of the whole global batch.
  out->local = NormalizeRows(features);
  out->x = at::empty({batch, config_.dim}, features.options());
  MW_RETURN_IF_ERROR(comm_->AllGather(ViewOf(out->local.unit.contiguous()), ViewOf(out->x)));
  at::Tensor local_labels = LabelColumns(config_, ids, neighbors);
  out->labels = at::empty({batch, local_labels.size(1)}, local_labels.options());
  return comm_->AllGather(ViewOf(local_labels), ViewOf(out->labels));
}

Status ShardedClassifier::StepAgainst(const GlobalBatch& g, const SmoothedTargets& targets,
                                      at::Tensor rows, at::Tensor momentum, ShardSoftmax& softmax,
                                      double lr, StepResult* result) {
  const at::Tensor& x = g.x;
  const int64_t batch = x.size(0);
  const int64_t local_batch = g.local.unit.size(0);
  const double tau = config_.temperature;

  // 3-5. These rows' logits, then the global max, sum and target logits.
  ShardSoftmaxStats stats = softmax.Forward(x);
  at::Tensor global_max = stats.row_max.clone();
  MW_RETURN_IF_ERROR(comm_->AllReduce(ViewOf(global_max), ReduceOp::kMax));
  at::Tensor to_global = (stats.row_max - global_max).exp_();
  at::Tensor sums = at::cat({stats.row_sum * to_global, targets.CosineSums(x, rows)});
  MW_RETURN_IF_ERROR(comm_->AllReduce(ViewOf(sums), ReduceOp::kSum));
  at::Tensor global_sum = sums.narrow(0, 0, batch);
  at::Tensor target_cosines = sums.narrow(0, batch, batch);
  result->loss = (global_max + global_sum.log() - target_cosines / tau).mean().item<double>();

  // 6-7. The feature gradient from these rows' classes, summed onto the samples' owners.
  const double grad_scale = 1.0 / (static_cast<double>(batch) * tau);
  at::Tensor x_grad = stats.exp_weights.mul_((to_global / global_sum * grad_scale).unsqueeze(1));
  targets.AddToFeatureGrad(x_grad, rows, -grad_scale);
  at::Tensor local_grad = at::empty({local_batch, config_.dim}, x.options());
  MW_RETURN_IF_ERROR(comm_->ReduceScatter(ViewOf(x_grad), ViewOf(local_grad)));
  result->feature_grad = NormalizeRowsBackward(g.local, local_grad);

  // 6, 8. The rows' gradient, applied block by block as it is produced.
  result->weight_grad = keep_weight_grad_ ? at::empty_like(rows) : at::Tensor();
  softmax.Backward(x, global_max, global_sum, grad_scale, targets,
                   [&](int64_t begin, const at::Tensor& grad) {
                     const int64_t n = grad.size(0);
                     if (keep_weight_grad_) result->weight_grad.narrow(0, begin, n).copy_(grad);
                     sgd_.Update(rows.narrow(0, begin, n), momentum.narrow(0, begin, n), grad, lr);
                   });
  return Status::Ok();
}

}  // namespace mw
