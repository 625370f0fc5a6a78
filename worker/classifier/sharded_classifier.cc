#include "worker/classifier/sharded_classifier.h"

#include <ATen/ATen.h>

#include "worker/classifier/row_normalization.h"
#include "worker/classifier/shard_softmax.h"
#include "worker/classifier/smoothed_targets.h"
#include "worker/comm/tensor_buffer.h"

namespace mw {

Status ShardedClassifier::Step(const at::Tensor& features, const at::Tensor& ids,
                               const at::Tensor& neighbors, double lr, StepResult* result) {
  MW_RETURN_IF_ERROR(ValidateStepInputs(config_, features, ids, neighbors));
  const int64_t local_batch = features.size(0);
  const int64_t batch = local_batch * comm_->world_size();
  const double tau = config_.temperature;

  // 1-2. The unit features and labels of the whole global batch.
  NormalizedRows local = NormalizeRows(features);
  at::Tensor x = at::empty({batch, config_.dim}, features.options());
  MW_RETURN_IF_ERROR(comm_->AllGather(ViewOf(local.unit.contiguous()), ViewOf(x)));
  at::Tensor local_labels = LabelColumns(config_, ids, neighbors);
  at::Tensor labels = at::empty({batch, local_labels.size(1)}, local_labels.options());
  MW_RETURN_IF_ERROR(comm_->AllGather(ViewOf(local_labels), ViewOf(labels)));
  SmoothedTargets targets(labels, row_begin_, row_end_, config_.smoothing, features.scalar_type());

  // 3-5. This shard's logits, then the global max, sum and target logits.
  ShardSoftmaxStats stats = softmax_->Forward(x);
  at::Tensor global_max = stats.row_max.clone();
  MW_RETURN_IF_ERROR(comm_->AllReduce(ViewOf(global_max), ReduceOp::kMax));
  at::Tensor to_global = (stats.row_max - global_max).exp_();
  at::Tensor sums = at::cat({stats.row_sum * to_global, targets.CosineSums(x, weights_)});
  MW_RETURN_IF_ERROR(comm_->AllReduce(ViewOf(sums), ReduceOp::kSum));
  at::Tensor global_sum = sums.narrow(0, 0, batch);
  at::Tensor target_cosines = sums.narrow(0, batch, batch);
  result->loss = (global_max + global_sum.log() - target_cosines / tau).mean().item<double>();

  // 6-7. The feature gradient from this shard's classes, summed onto the samples' owners.
  const double grad_scale = 1.0 / (static_cast<double>(batch) * tau);
  at::Tensor x_grad = stats.exp_weights.mul_((to_global / global_sum * grad_scale).unsqueeze(1));
  targets.AddToFeatureGrad(x_grad, weights_, -grad_scale);
  at::Tensor local_grad = at::empty({local_batch, config_.dim}, features.options());
  MW_RETURN_IF_ERROR(comm_->ReduceScatter(ViewOf(x_grad), ViewOf(local_grad)));
  result->feature_grad = NormalizeRowsBackward(local, local_grad);

  // 6, 8. The shard's gradient, applied block by block as it is produced.
  result->weight_grad = keep_weight_grad_ ? at::empty_like(weights_) : at::Tensor();
  softmax_->Backward(
      x, global_max, global_sum, grad_scale, targets, [&](int64_t begin, const at::Tensor& grad) {
        const int64_t n = grad.size(0);
        if (keep_weight_grad_) result->weight_grad.narrow(0, begin, n).copy_(grad);
        sgd_.Update(weights_.narrow(0, begin, n), momentum_.narrow(0, begin, n), grad, lr);
      });
  return Status::Ok();
}

}  // namespace mw
