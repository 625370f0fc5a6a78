// JobSpec: a training job as a user writes it, in JSON. Every method parameter is a field
// with the paper's default; an invalid spec is refused before any work starts, naming the
// field and the rule it breaks (or the file, line and column of a syntax error).
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "worker/training/trainer_config.h"

namespace mw {

struct JobSpec {
  std::string dataset = "fashion-mnist";
  int64_t train_subset = 0;          // first n training images; 0: all
  int64_t test_subset = 0;           // first n test images for evaluation; 0: all
  bool lr_given = false;             // else lr = 0.48 x global batch / 4096 (the paper's rule)
  bool classifier_lr_given = false;  // else the same as lr
  TrainerConfig trainer;

  // Fills the learning rates the spec left to the paper's rule, for `world_size` ranks.
  void ResolveLearningRates(int world_size);
};

// `source` names the text in error messages (a path).
Status ParseJobSpec(const std::string& text, const std::string& source, JobSpec* out);
Status LoadJobSpec(const std::string& path, JobSpec* out);

}  // namespace mw
