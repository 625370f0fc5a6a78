// Semi-supervised evaluation (the paper's 1% / 10% protocol): a copy of the pretrained
// backbone plus a new linear layer is fine-tuned on a seeded, fixed fraction of the labelled
// training images, with the same augmentation as pretraining (one labelled sample per
// view), and scored on the test split. Data-parallel over the communicator, so every rank
// takes part and every rank returns the accuracy; the pretrained backbone is not touched.
#pragma once

#include <cstdint>

#include "common/status.h"
#include "worker/comm/communicator.h"
#include "worker/data/augmentation.h"
#include "worker/data/dataset.h"
#include "worker/model/resnet.h"

namespace mw {

struct FineTuneOptions {
  double label_fraction = 0.1;
  int64_t epochs = 20;
  int64_t local_batch = 32;  // images per rank and step (two views each)
  double backbone_lr = 0.05;
  double head_lr = 0.5;
  double momentum = 0.9;
  double weight_decay = 5e-4;
  uint64_t seed = 0;
  int loader_threads = 1;
};

Status FineTune(const ResNet& pretrained, const ResNetSpec& spec, Communicator& comm,
                const Dataset& train, const Dataset& test, const Augmenter& augmenter,
                const FineTuneOptions& options, double* top1);

// The labelled subset: round(fraction x N) ids of a seeded permutation, at least one.
std::vector<int64_t> LabelledSubset(int64_t num_images, double fraction, uint64_t seed);

}  // namespace mw
