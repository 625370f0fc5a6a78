// SampledClassifier: sampled-instance classification, the baseline of the paper's Table 3 and
// the scheme of PIC. Each step scores the batch against a subset of the classes instead of all
// N: the batch's own classes (its instance ids, and their top-k neighbours when smoothing is
// on) plus `sampled_classes` drawn uniformly from all N, each rank drawing from its own rows
// in proportion to their number. The loss, the softmax and the gradients are the sharded
// step's, over that subset; only the subset's rows and momentum change.
#pragma once

#include <cstdint>
#include <vector>

#include "worker/classifier/sharded_classifier.h"

namespace mw {

// `m` distinct values of [0, n), each m-subset equally likely, ascending: Floyd's algorithm,
// O(m) draws and memory whatever n is (a permutation of the shard would cost O(N/W) per
// step). The same (seed, n, m) give the same values on every build.
std::vector<int64_t> DrawDistinct(uint64_t seed, int64_t n, int64_t m);

class SampledClassifier final : public ShardedClassifier {
 public:
  // Use Classifier::Create, which validates the config first.
  SampledClassifier(const ClassifierConfig& config, Communicator* comm, int64_t row_begin,
                    int64_t row_end);

  Status Step(const at::Tensor& features, const at::Tensor& ids, const at::Tensor& neighbors,
              double lr, StepResult* result) override;

  // The global ids of this rank's classes in the last step, ascending.
  at::Tensor last_classes() const { return last_classes_; }

 private:
  // Local row numbers, ascending and distinct: this rank's rows among `labels`, and its share
  // of the uniform draw, seeded by the step's position (so a resumed job draws the same).
  at::Tensor ChooseRows(const at::Tensor& labels);

  int64_t draws_;  // rows drawn from this rank's shard per step
  at::Tensor last_classes_;
};

}  // namespace mw
