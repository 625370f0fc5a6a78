// ReplicatedClassifier: every rank holds all N rows and all-reduces their gradient each
// step, as data-parallel training (DDP) would; the baseline the sharded layout is measured
// against (the paper's Table 1). Same math and kernels as ShardedClassifier, so a benchmark
// sees only the layout's cost: N x d memory and an N x d all-reduce per step.
#pragma once

#include <memory>

#include "worker/classifier/classifier.h"
#include "worker/classifier/momentum_sgd.h"
#include "worker/comm/communicator.h"

namespace mw {

class ShardSoftmax;

class ReplicatedClassifier final : public Classifier {
 public:
  static Status Create(const ClassifierConfig& config, Communicator* comm,
                       std::unique_ptr<Classifier>* out);
  ~ReplicatedClassifier() override;

  Status Step(const at::Tensor& features, const at::Tensor& ids, const at::Tensor& neighbors,
              double lr, StepResult* result) override;

  at::Tensor weights() override { return weights_; }
  at::Tensor momentum_buffer() override { return momentum_; }
  int64_t row_begin() const override { return 0; }
  int64_t row_end() const override { return config_.num_classes; }

 private:
  ReplicatedClassifier(const ClassifierConfig& config, Communicator* comm);

  ClassifierConfig config_;
  Communicator* comm_;
  MomentumSgd sgd_;
  at::Tensor weights_;
  at::Tensor momentum_;
  at::Tensor grad_;
  std::unique_ptr<ShardSoftmax> softmax_;
};

}  // namespace mw
