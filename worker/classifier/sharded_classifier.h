// ShardedClassifier: the model-parallel classifier of the hybrid-parallel step.
//
// Rank r owns the contiguous rows C_r of W (RowPartition) and their momentum; the shard never
// leaves its rank. One step all-gathers the unit features and labels of the global batch,
// computes this shard's logits in chunks (ShardSoftmax), combines the per-shard max and sum
// with two small all-reduces, reduce-scatters the feature gradient back to the samples'
// owners, and updates the shard chunk by chunk as its gradient is produced, so no
// shard-sized gradient exists. Traffic per step is O(B d), independent of N.
#pragma once

#include "worker/classifier/classifier.h"
#include "worker/classifier/row_normalization.h"

namespace mw {

class SmoothedTargets;

class ShardedClassifier : public Classifier {
 public:
  // Use Classifier::Create, which validates the config first.
  ShardedClassifier(const ClassifierConfig& config, Communicator* comm, int64_t row_begin,
                    int64_t row_end)
      : Classifier(config, comm, row_begin, row_end) {}

  Status Step(const at::Tensor& features, const at::Tensor& ids, const at::Tensor& neighbors,
              double lr, StepResult* result) override;

 protected:
  // The global batch as every rank sees it: steps 1-2.
  struct GlobalBatch {
    NormalizedRows local;  // this rank's features, normalised
    at::Tensor x;          // [B, d] unit features of every rank's samples
    at::Tensor labels;     // [B, 1 + k] global class ids: the sample's own, then its top-k
  };
  Status Gather(const at::Tensor& features, const at::Tensor& ids, const at::Tensor& neighbors,
                GlobalBatch* out);

  // Steps 3-8 against `rows` (raw rows [n, d], a ShardSoftmax over them, their momentum) and
  // the targets that fall in them: the loss over every rank's rows, the feature gradient, and
  // the SGD update of `rows` and `momentum` in place. result->weight_grad is [n, d].
  Status StepAgainst(const GlobalBatch& batch, const SmoothedTargets& targets, at::Tensor rows,
                     at::Tensor momentum, ShardSoftmax& softmax, double lr, StepResult* result);
};

}  // namespace mw
