// ReplicatedClassifier: every rank holds all N rows and all-reduces their gradient each
// step, as data-parallel training (DDP) would; the baseline the sharded layout is measured
// against (the paper's Table 1). Same math and kernels as ShardedClassifier, so a benchmark
// sees only the layout's cost: N x d memory, an N x d gradient and its all-reduce per step.
#pragma once

#include "worker/classifier/classifier.h"

namespace mw {

class ReplicatedClassifier final : public Classifier {
 public:
  // Use Classifier::Create, which validates the config first.
  ReplicatedClassifier(const ClassifierConfig& config, Communicator* comm);

  Status Step(const at::Tensor& features, const at::Tensor& ids, const at::Tensor& neighbors,
              double lr, StepResult* result) override;

 private:
  at::Tensor grad_;  // [N, d], all-reduced each step
};

}  // namespace mw
