// Classifier: the N-way cosine-softmax instance classifier with smoothed top-k labels, as
// one training step seen from one rank. Two layouts implement it: ShardedClassifier (rows
// split over ranks, the system's mode) and ReplicatedClassifier (every rank holds all rows
// and all-reduces their gradient: the data-parallel baseline).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "common/status.h"
#include "worker/classifier/classifier_config.h"

namespace mw {

struct StepResult {
  double loss = 0;          // mean over the global batch, identical on every rank
  at::Tensor feature_grad;  // [b, d]: dLoss/dfeatures for this rank's samples
  at::Tensor weight_grad;   // [rows, d] before the update; only if keep_weight_grad
};

class Classifier {
 public:
  virtual ~Classifier() = default;

  // features: [b, d] embeddings of this rank's samples, any norm (normalised inside).
  // ids: [b] int64 instance ids. neighbors: [b, k] int64, each sample's k hardest classes
  // (excluding itself); may be undefined when smoothing = 0. Every rank passes the same b.
  // Computes the loss of the global batch and the feature gradient, then takes one SGD step
  // of the classifier with learning rate lr.
  virtual Status Step(const at::Tensor& features, const at::Tensor& ids,
                      const at::Tensor& neighbors, double lr, StepResult* result) = 0;

  // The rows this rank holds, [row_end - row_begin, d]; writable (initialisation, loading).
  virtual at::Tensor weights() = 0;
  virtual at::Tensor momentum_buffer() = 0;
  virtual int64_t row_begin() const = 0;
  virtual int64_t row_end() const = 0;

  void set_keep_weight_grad(bool keep) { keep_weight_grad_ = keep; }

 protected:
  bool keep_weight_grad_ = false;
};

// Checks a step's inputs against the config: shapes, types, id ranges, self-neighbours.
Status ValidateStepInputs(const ClassifierConfig& config, const at::Tensor& features,
                          const at::Tensor& ids, const at::Tensor& neighbors);

// [b, 1 + k] int64: the ids, then the neighbours (only ids when smoothing = 0).
at::Tensor LabelColumns(const ClassifierConfig& config, const at::Tensor& ids,
                        const at::Tensor& neighbors);

at::ScalarType ScalarTypeOf(Precision precision);

}  // namespace mw
