// Classifier: the N-way cosine-softmax instance classifier with smoothed top-k labels, as
// one training step seen from one rank. Two layouts implement it: ShardedClassifier (rows
// split over ranks, the system's mode) and ReplicatedClassifier (every rank holds all rows
// and all-reduces their gradient: the data-parallel baseline). SampledClassifier is the
// sharded layout scoring a sampled subset of the classes (config.sampled_classes > 0).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>

#include "common/status.h"
#include "worker/classifier/classifier_config.h"
#include "worker/classifier/momentum_sgd.h"
#include "worker/comm/communicator.h"

namespace mw {

class ShardSoftmax;

enum class ClassifierLayout { kSharded, kReplicated };

struct StepResult {
  double loss = 0;          // mean over the global batch, identical on every rank
  at::Tensor feature_grad;  // [b, d]: dLoss/dfeatures for this rank's samples
  at::Tensor weight_grad;   // [rows, d] before the update; only if keep_weight_grad
};

class Classifier {
 public:
  // comm must outlive the classifier. Rows start at zero: set them through weights().
  static Status Create(ClassifierLayout layout, const ClassifierConfig& config, Communicator* comm,
                       std::unique_ptr<Classifier>* out);
  virtual ~Classifier();

  // features: [b, d] embeddings of this rank's samples, any norm (normalised inside).
  // ids: [b] int64 instance ids. neighbors: [b, k] int64, each sample's k hardest classes
  // (excluding itself); may be undefined when smoothing = 0. Every rank passes the same b.
  // Computes the loss of the global batch and the feature gradient, then takes one SGD step
  // of the classifier with learning rate lr.
  virtual Status Step(const at::Tensor& features, const at::Tensor& ids,
                      const at::Tensor& neighbors, double lr, StepResult* result) = 0;

  // The rows this rank holds, [row_end - row_begin, d]; writable (initialisation, loading).
  at::Tensor weights() { return weights_; }
  at::Tensor momentum_buffer() { return momentum_; }
  int64_t row_begin() const { return row_begin_; }
  int64_t row_end() const { return row_end_; }
  const ClassifierConfig& config() const { return config_; }

  void set_keep_weight_grad(bool keep) { keep_weight_grad_ = keep; }

  // Where the next Step stands in training. A layout that draws at random (sampled classes)
  // seeds each step's draw from it, so a job resumed from a checkpoint draws what the
  // uninterrupted job drew. A sampled Step moves it one step on.
  void set_position(int64_t epoch, int64_t step) {
    epoch_ = epoch;
    step_ = step;
  }

 protected:
  Classifier(const ClassifierConfig& config, Communicator* comm, int64_t row_begin,
             int64_t row_end);

  ClassifierConfig config_;
  Communicator* comm_;
  MomentumSgd sgd_;
  int64_t row_begin_;
  int64_t row_end_;
  at::Tensor weights_;
  at::Tensor momentum_;
  std::unique_ptr<ShardSoftmax> softmax_;  // over weights_
  bool keep_weight_grad_ = false;
  int64_t epoch_ = 0;
  int64_t step_ = 0;
};

// Checks a step's inputs against the config: shapes, types, id ranges, self-neighbours.
Status ValidateStepInputs(const ClassifierConfig& config, const at::Tensor& features,
                          const at::Tensor& ids, const at::Tensor& neighbors);

// [b, 1 + k] int64: the ids, then the neighbours (only ids when smoothing = 0).
at::Tensor LabelColumns(const ClassifierConfig& config, const at::Tensor& ids,
                        const at::Tensor& neighbors);

// The type of the rows, momentum and features (fp32 for bf16: its master copy).
at::ScalarType ScalarTypeOf(Precision precision);
// The type of the blocks of logits and of the matrix products' inputs.
at::ScalarType BlockTypeOf(Precision precision);

}  // namespace mw
