// JobSpec: a training job as a user writes it, in JSON. Every method parameter is a field
// with the paper's default; an invalid spec is refused before any work starts, naming the
// field and the rule it breaks (or the file, line and column of a syntax error).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "worker/data/dataset_spec.h"
#include "worker/training/trainer_config.h"

namespace mw {

struct JobSpec {
  DatasetSpec data;
  bool lr_given = false;             // else lr = 0.48 x global batch / 4096 (the paper's rule)
  bool classifier_lr_given = false;  // else the same as lr
  TrainerConfig trainer;
  bool evaluate_before_training = true;  // score the random-init network too
  bool evaluate_every_epoch = false;  // kNN (and linear probe) after each epoch, not only the last
  bool linear_probe = true;
  int64_t evaluation_subset = 0;  // the first n training images the evaluation uses; 0: all
  // A checkpoint every this many steps of an epoch besides the one at its end (0: at epoch
  // ends only): an epoch at ImageNet-21K scale lasts hours, and a failure redoes what follows
  // the last checkpoint.
  int64_t checkpoint_every_steps = 0;
  // Semi-supervised evaluation: fine-tune backbone + a linear layer on these fractions of the
  // labelled training images (the paper's 1% and 10%), score on the test split.
  std::vector<double> fine_tune_fractions;
  int64_t fine_tune_epochs = 20;

  // Fills the learning rates the spec left to the paper's rule, for `world_size` ranks.
  void ResolveLearningRates(int world_size);
};

// `source` names the text in error messages (a path).
Status ParseJobSpec(const std::string& text, const std::string& source, JobSpec* out);
// A spec file's text as JSON: JSON as it is, YAML (*.yaml, *.yml) converted.
Status ReadJobSpecFile(const std::string& path, std::string* json);
Status LoadJobSpec(const std::string& path, JobSpec* out);

}  // namespace mw
