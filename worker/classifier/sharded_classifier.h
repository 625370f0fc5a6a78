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

namespace mw {

class ShardedClassifier final : public Classifier {
 public:
  // Use Classifier::Create, which validates the config first.
  ShardedClassifier(const ClassifierConfig& config, Communicator* comm, int64_t row_begin,
                    int64_t row_end)
      : Classifier(config, comm, row_begin, row_end) {}

  Status Step(const at::Tensor& features, const at::Tensor& ids, const at::Tensor& neighbors,
              double lr, StepResult* result) override;
};

}  // namespace mw
