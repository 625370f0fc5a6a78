#include "worker/classifier/replicated_classifier.h"

#include <ATen/ATen.h>

#include "worker/classifier/row_normalization.h"
#include "worker/classifier/shard_softmax.h"
#include "worker/classifier/smoothed_targets.h"
#include "worker/comm/tensor_buffer.h"

namespace mw {

ReplicatedClassifier::ReplicatedClassifier(const ClassifierConfig& config, Communicator* comm)
    : Classifier(config, comm, 0, config.num_classes), grad_(at::zeros_like(weights_)) {}

Status ReplicatedClassifier::Step(const at::Tensor& features, const at::Tensor& ids,
                                  const at::Tensor& neighbors, double lr, StepResult* result) {
  MW_RETURN_IF_ERROR(ValidateStepInputs(config_, features, ids, neighbors));
  const int64_t batch = features.size(0) * comm_->world_size();
  const double tau = config_.temperature;

  // Each rank scores only its own samples, against every class.
  NormalizedRows local = NormalizeRows(features);
  const at::Tensor& x = local.unit;
  SmoothedTargets targets(LabelColumns(config_, ids, neighbors), 0, config_.num_classes,
                          config_.smoothing, features.scalar_type());
  ShardSoftmaxStats stats = softmax_->Forward(x);
  at::Tensor target_cosines = targets.CosineSums(x, weights_);
  at::Tensor loss_sum =
      (stats.row_max + stats.row_sum.log() - target_cosines / tau).sum().reshape({1});
  MW_RETURN_IF_ERROR(comm_->AllReduce(ViewOf(loss_sum), ReduceOp::kSum));
  result->loss = loss_sum.item<double>() / static_cast<double>(batch);

  const double grad_scale = 1.0 / (static_cast<double>(batch) * tau);
  at::Tensor x_grad = stats.exp_weights.mul_((grad_scale / stats.row_sum).unsqueeze(1));
  targets.AddToFeatureGrad(x_grad, weights_, -grad_scale);
  result->feature_grad = NormalizeRowsBackward(local, x_grad);

  softmax_->Backward(x, stats.row_max, stats.row_sum, grad_scale, targets,
                     [&](int64_t begin, const at::Tensor& grad) {
                       grad_.narrow(0, begin, grad.size(0)).copy_(grad);
                     });
  MW_RETURN_IF_ERROR(comm_->AllReduce(ViewOf(grad_), ReduceOp::kSum));
  result->weight_grad = keep_weight_grad_ ? grad_.clone() : at::Tensor();
  sgd_.Update(weights_, momentum_, grad_, lr);
  return Status::Ok();
}

}  // namespace mw
