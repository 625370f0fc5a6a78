#include "worker/training/evaluation.h"

#include <ATen/ATen.h>

#include "common/row_partition.h"
#include "worker/comm/tensor_buffer.h"
#include "worker/data/prefix_dataset.h"

namespace mw {

at::Tensor Labels(const Dataset& data, int64_t begin, int64_t count) {
  at::Tensor labels = at::empty({count}, at::kLong);
  int64_t* out = labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < count; ++i) out[i] = data.Label(begin + i);
  return labels;
}

Status Evaluate(Trainer& trainer, const Dataset& train_set, const Dataset& test,
                const EvaluationOptions& options, Evaluation* out) {
  const PrefixDataset train(train_set,
                            options.train_subset > 0 ? options.train_subset : train_set.size());
  Communicator& comm = trainer.host_communicator();
  for (const Dataset* data : {&train_set, &test}) {
    if (data->num_labels() == 0) {
      return Status::FailedPrecondition(data->Describe() + " has no labels to evaluate with");
    }
  }
  const RowPartition partition(train.size(), comm.world_size());
  const at::Tensor test_labels = Labels(test, 0, test.size());
  at::Tensor train_part, test_features;
  MW_RETURN_IF_ERROR(trainer.FeaturesPart(train, &train_part));
  MW_RETURN_IF_ERROR(trainer.Features(test, &test_features));
  KnnOptions knn = options.knn;
  knn.num_classes = train.num_labels();
  at::Tensor predicted;
  MW_RETURN_IF_ERROR(KnnPredict(comm, train_part,
                                Labels(train, partition.begin(comm.rank()), train_part.size(0)),
                                test_features, knn, &predicted));
  out->knn_top1 = predicted.eq(test_labels).to(at::kDouble).mean().item<double>();
  out->linear_top1 = 0;
  if (!options.linear_probe) return Status::Ok();
  // The probe trains on every training feature, so they are gathered (N x feature_dim floats
  // on every rank), and it runs on one rank, the others waiting for its figure.
  at::Tensor train_features;
  MW_RETURN_IF_ERROR(trainer.GatherFeatures(train_part, train.size(), &train_features));
  at::Tensor figure = at::zeros({1}, at::kDouble);
  if (comm.rank() == 0) {
    LinearProbeOptions linear = options.linear;
    linear.num_classes = train.num_labels();
    figure[0] = LinearProbeAccuracy(train_features, Labels(train, 0, train.size()), test_features,
                                    test_labels, linear);
  }
  MW_RETURN_IF_ERROR(comm.AllReduce(ViewOf(figure), ReduceOp::kSum));
  out->linear_top1 = figure.item<double>();
  return Status::Ok();
}

}  // namespace mw
