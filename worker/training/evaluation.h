// Evaluation of the backbone during and after training, on a labelled train/test pair:
// kNN monitor and linear probe on frozen features. Collective: every rank extracts a part
// of the features, then the two scorers run on different ranks at once (both on rank 0 when
// alone) and every rank returns both figures.
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
};

struct Evaluation {
  double knn_top1 = 0;
  double linear_top1 = 0;  // 0 when the probe was not asked for
};

// Both datasets must be labelled (FAILED_PRECONDITION otherwise). Collective over the
// trainer's gang (its host communicator).
Status Evaluate(Trainer& trainer, const Dataset& train, const Dataset& test,
                const EvaluationOptions& options, Evaluation* out);

// The labels of every image of a labelled dataset: [data.size()] int64.
at::Tensor Labels(const Dataset& data);

}  // namespace mw
