// TrainerConfig: everything a training job decides, without LibTorch, so a job spec can be
// parsed and validated by binaries that never touch tensors.
#pragma once

#include <cstdint>
#include <string>

#include "worker/classifier/classifier_config.h"
#include "worker/data/augmentation.h"

namespace mw {

struct TrainerConfig {
  ClassifierConfig classifier;  // num_classes is set to the dataset's size
  std::string backbone = "small";
  int64_t hidden_dim = 512;
  int64_t local_batch = 64;  // images per rank and step; each gives two views
  int64_t epochs = 5;
  int64_t warmup_epochs = 1;
  double lr = 0.1;             // backbone and head, after warm-up
  double classifier_lr = 1.0;  // the classifier's rows
  double momentum = 0.9;
  double weight_decay = 1e-4;
  uint64_t seed = 0;
  AugmentationSpec augmentation = AugmentationSpec::FashionMnist();
};

}  // namespace mw
