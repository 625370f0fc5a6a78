#include "worker/training/evaluation.h"

#include <ATen/ATen.h>

#include "worker/comm/tensor_buffer.h"

namespace mw {

at::Tensor Labels(const Dataset& data) {
  at::Tensor labels = at::empty({data.size()}, at::kLong);
  int64_t* out = labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < data.size(); ++i) out[i] = data.Label(i);
  return labels;
}

Status Evaluate(Trainer& trainer, const Dataset& train, const Dataset& test,
                const EvaluationOptions& options, Evaluation* out) {
  Communicator& comm = trainer.host_communicator();
  for (const Dataset* data : {&train, &test}) {
    if (data->num_labels() == 0) {
      return Status::FailedPrecondition(data->Describe() + " has no labels to evaluate with");
    }
  }
  at::Tensor train_features, test_features;
  MW_RETURN_IF_ERROR(trainer.Features(train, &train_features));
  MW_RETURN_IF_ERROR(trainer.Features(test, &test_features));
  const int probe_rank = comm.world_size() > 1 ? 1 : 0;
  // Each figure is computed on one rank and zero elsewhere, so a sum shares both.
  at::Tensor figures = at::zeros({2}, at::kDouble);
  KnnOptions knn = options.knn;
  knn.num_classes = train.num_labels();
  LinearProbeOptions linear = options.linear;
  linear.num_classes = train.num_labels();
  if (comm.rank() == 0) {
    figures[0] = KnnAccuracy(train_features, Labels(train), test_features, Labels(test), knn);
  }
  if (options.linear_probe && comm.rank() == probe_rank) {
    figures[1] =
        LinearProbeAccuracy(train_features, Labels(train), test_features, Labels(test), linear);
  }
  MW_RETURN_IF_ERROR(comm.AllReduce(ViewOf(figures), ReduceOp::kSum));
  out->knn_top1 = figures[0].item<double>();
  out->linear_top1 = figures[1].item<double>();
  return Status::Ok();
}

}  // namespace mw
