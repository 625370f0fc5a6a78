#include "worker/classifier/classifier.h"

#include <ATen/ATen.h>

#include <sstream>

#include "common/row_partition.h"
#include "worker/classifier/replicated_classifier.h"
#include "worker/classifier/sampled_classifier.h"
#include "worker/classifier/shard_softmax.h"
#include "worker/classifier/sharded_classifier.h"
#include "worker/comm/torch_device.h"

namespace mw {

Classifier::Classifier(const ClassifierConfig& config, Communicator* comm, int64_t row_begin,
                       int64_t row_end)
    : config_(config),
      comm_(comm),
      sgd_{config.momentum, config.weight_decay},
      row_begin_(row_begin),
      row_end_(row_end) {
  const at::TensorOptions options =
      at::TensorOptions().dtype(ScalarTypeOf(config.precision)).device(TorchDevice(config.device));
  weights_ = at::zeros({row_end - row_begin, config.dim}, options);
  momentum_ = at::zeros({row_end - row_begin, config.dim}, options);
  softmax_ =
      std::make_unique<ShardSoftmax>(weights_, config.temperature, config.chunk_rows,
                                     config.logit_cache_bytes, BlockTypeOf(config.precision));
}

Classifier::~Classifier() = default;

Status Classifier::Create(ClassifierLayout layout, const ClassifierConfig& config,
                          Communicator* comm, std::unique_ptr<Classifier>* out) {
  MW_RETURN_IF_ERROR(config.Validate(comm->world_size()));
  MW_RETURN_IF_ERROR(CheckDeviceAvailable(config.device));
  if (layout == ClassifierLayout::kReplicated) {
    if (config.sampled_classes > 0) {
      return Status::InvalidArgument("sampled_classes = " + std::to_string(config.sampled_classes) +
                                     " needs the sharded layout, not the replicated baseline");
    }
    out->reset(new ReplicatedClassifier(config, comm));
    return Status::Ok();
  }
  const RowPartition partition(config.num_classes, comm->world_size());
  const int64_t begin = partition.begin(comm->rank()), end = partition.end(comm->rank());
  if (config.sampled_classes > 0) {
    out->reset(new SampledClassifier(config, comm, begin, end));
  } else {
    out->reset(new ShardedClassifier(config, comm, begin, end));
  }
  return Status::Ok();
}

namespace {

Status CheckIndexRange(const char* name, const at::Tensor& index, int64_t limit) {
  at::Tensor bad = (index < 0).logical_or_(index >= limit).reshape(-1).nonzero();
  if (bad.numel() == 0) return Status::Ok();
  const int64_t flat = bad[0][0].item<int64_t>();
  std::ostringstream msg;
  msg << name << "[";
  if (index.dim() == 2) {
    msg << flat / index.size(1) << "][" << flat % index.size(1);
  } else {
    msg << flat;
  }
  msg << "] = " << index.reshape(-1)[flat].item<int64_t>() << " is out of range [0, " << limit
      << ")";
  return Status::InvalidArgument(msg.str());
}

}  // namespace

at::ScalarType ScalarTypeOf(Precision precision) {
  return precision == Precision::kFloat64 ? at::kDouble : at::kFloat;
}

at::ScalarType BlockTypeOf(Precision precision) {
  return precision == Precision::kBfloat16 ? at::kBFloat16 : ScalarTypeOf(precision);
}

Status ValidateStepInputs(const ClassifierConfig& config, const at::Tensor& features,
                          const at::Tensor& ids, const at::Tensor& neighbors) {
  if (!features.defined() || features.dim() != 2 || features.size(0) < 1) {
    return Status::InvalidArgument("features must be a non-empty [batch, dim] tensor");
  }
  if (features.size(1) != config.dim) {
    return Status::InvalidArgument("features width = " + std::to_string(features.size(1)) +
                                   " must equal dim = " + std::to_string(config.dim));
  }
  if (features.scalar_type() != ScalarTypeOf(config.precision)) {
    return Status::InvalidArgument(
        std::string("features dtype = ") + c10::toString(features.scalar_type()) +
        " must match the classifier precision " + c10::toString(ScalarTypeOf(config.precision)));
  }
  const c10::Device device = TorchDevice(config.device);
  if (features.device() != device || (ids.defined() && ids.device() != device) ||
      (neighbors.defined() && neighbors.device() != device)) {
    return Status::InvalidArgument(
        "features, ids and neighbors must be on the classifier's device " +
        config.device.ToString());
  }
  const int64_t batch = features.size(0);
  if (!ids.defined() || ids.dim() != 1 || ids.size(0) != batch || ids.scalar_type() != at::kLong) {
    return Status::InvalidArgument("ids must be an int64 tensor of shape [" +
                                   std::to_string(batch) + "]");
  }
  MW_RETURN_IF_ERROR(CheckIndexRange("ids", ids, config.num_classes));
  if (config.smoothing == 0) return Status::Ok();
  if (!neighbors.defined() || neighbors.dim() != 2 || neighbors.size(0) != batch ||
      neighbors.size(1) != config.top_k || neighbors.scalar_type() != at::kLong) {
    return Status::InvalidArgument("neighbors must be an int64 tensor of shape [" +
                                   std::to_string(batch) +
                                   ", top_k = " + std::to_string(config.top_k) + "]");
  }
  MW_RETURN_IF_ERROR(CheckIndexRange("neighbors", neighbors, config.num_classes));
  at::Tensor self = neighbors.eq(ids.unsqueeze(1)).nonzero();
  if (self.numel() > 0) {
    const int64_t i = self[0][0].item<int64_t>();
    return Status::InvalidArgument("neighbors[" + std::to_string(i) + "][" +
                                   std::to_string(self[0][1].item<int64_t>()) + "] = ids[" +
                                   std::to_string(i) + "]: a sample cannot be its own neighbour");
  }
  return Status::Ok();
}

at::Tensor LabelColumns(const ClassifierConfig& config, const at::Tensor& ids,
                        const at::Tensor& neighbors) {
  if (config.smoothing == 0) return ids.unsqueeze(1).contiguous();
  return at::cat({ids.unsqueeze(1), neighbors}, 1).contiguous();
}

}  // namespace mw
