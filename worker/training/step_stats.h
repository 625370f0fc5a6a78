// StepStats: one training step as the trainer saw it, for whoever watches (the worker's
// metrics); apart from the trainer so that watchers need not include LibTorch.
#pragma once

#include <cstdint>

namespace mw {

struct StepStats {
  int64_t epoch = 0;
  int64_t step = 0;
  double loss = 0;
  double lr = 0;             // backbone and head
  double classifier_lr = 0;  // the classifier's rows
  int64_t samples = 0;       // views this rank trained on
  double seconds = 0;        // the whole step, from asking for its batch
  double data_wait_seconds = 0;
};

}  // namespace mw
