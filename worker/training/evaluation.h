// Evaluation of the backbone during and after training, on a labelled train/test pair:
// kNN monitor and linear probe on frozen features. Collective: every rank extracts its part
// of the training features and scores the test set against it (knn_monitor.h); the linear
// probe, when asked for, gathers every training feature and trains on rank 0. Every rank
// returns both figures.
#pragma once

#include "common/status.h"
#include "worker/data/dataset.h"
#include "worker/training/knn_monitor.h"
#include "worker/training/linear_probe.h"
#include "worker/training/trainer.h"

namespace mw {

struct EvaluationOptions {
  KnnOptions knn;
  LinearProbeOptions linear;
  bool linear_probe = true;
  // The first n training images form the kNN bank and the probe's training set; 0: all. At
  // ImageNet-21K's 14.2M a bank of all of them costs a forward pass over the whole set.
  int64_t train_subset = 0;
};

struct Evaluation {
  double knn_top1 = 0;
  double linear_top1 = 0;  // 0 when the probe was not asked for
};

// Both datasets must be labelled (FAILED_PRECONDITION otherwise). Collective over the
// trainer's gang (its host communicator).
Status Evaluate(Trainer& trainer, const Dataset& train, const Dataset& test,
                const EvaluationOptions& options, Evaluation* out);

// The labels of images [begin, begin + count) of a labelled dataset: [count] int64.
at::Tensor Labels(const Dataset& data, int64_t begin, int64_t count);

}  // namespace mw
