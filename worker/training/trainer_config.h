// TrainerConfig: everything a training job decides, without LibTorch, so a job spec can be
// parsed and validated by binaries that never touch tensors.
#pragma once

#include <cstdint>
#include <string>

#include "worker/classifier/classifier_config.h"
#include "worker/data/augmentation_spec.h"

namespace mw {

// How the classifier's rows start (DESIGN §1): the contrastive prior sets w_i to instance
// i's embedding under the random network with BN statistics updating; the two others are
// the comparisons the paper makes.
enum class ClassifierInit { kContrastivePrior, kFrozenBnPrior, kGaussian };

struct TrainerConfig {
  ClassifierConfig classifier;  // num_classes is set to the dataset's size
  std::string backbone = "small";
  int64_t hidden_dim = 512;
  int64_t local_batch = 64;  // images per rank and step; each gives two views
  int64_t epochs = 5;
  int64_t warmup_epochs = 1;
  // > 0: an epoch ends after this many steps (a scale run that times the classifier at N
  // classes without training through all N instances); 0: every instance once.
  int64_t max_steps_per_epoch = 0;
  double lr = 0.1;             // backbone and head, after warm-up
  double classifier_lr = 1.0;  // the classifier's rows
  double momentum = 0.9;
  double weight_decay = 1e-4;
  uint64_t seed = 0;
  ClassifierInit init = ClassifierInit::kContrastivePrior;
  int loader_threads = 1;  // per rank, decoding and augmenting ahead of the step
  int prefetch_batches = 4;
  AugmentationSpec augmentation = AugmentationSpec::FashionMnist();
};

}  // namespace mw
