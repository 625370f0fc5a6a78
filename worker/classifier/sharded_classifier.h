// ShardedClassifier: the model-parallel classifier of the hybrid-parallel step.
//
// Rank r owns the contiguous rows C_r of W (RowPartition) and their momentum; the shard never
// leaves its rank. One step all-gathers the unit features and labels of the global batch,
// computes this shard's logits in chunks (ShardSoftmax), combines the per-shard max and sum
// with two small all-reduces, reduce-scatters the feature gradient back to the samples'
// owners, and updates the shard block by block as its gradient is produced. Traffic per
// step is O(B d), independent of N.
#pragma once

#include <memory>

#include "common/row_partition.h"
#include "worker/classifier/classifier.h"
#include "worker/classifier/momentum_sgd.h"
#include "worker/comm/communicator.h"

namespace mw {

class ShardSoftmax;

class ShardedClassifier final : public Classifier {
 public:
  // comm must outlive the classifier. Rows start at zero: set them through weights().
  static Status Create(const ClassifierConfig& config, Communicator* comm,
                       std::unique_ptr<Classifier>* out);
  ~ShardedClassifier() override;

  Status Step(const at::Tensor& features, const at::Tensor& ids, const at::Tensor& neighbors,
              double lr, StepResult* result) override;

  at::Tensor weights() override { return weights_; }
  at::Tensor momentum_buffer() override { return momentum_; }
  int64_t row_begin() const override { return partition_.begin(comm_->rank()); }
  int64_t row_end() const override { return partition_.end(comm_->rank()); }

 private:
  ShardedClassifier(const ClassifierConfig& config, Communicator* comm);

  ClassifierConfig config_;
  Communicator* comm_;
  RowPartition partition_;
  MomentumSgd sgd_;
  at::Tensor weights_;
  at::Tensor momentum_;
  std::unique_ptr<ShardSoftmax> softmax_;
};

}  // namespace mw
