// Trainer: one rank's share of a training job, as the tasks a worker is told to run:
// initialise the classifier from the contrastive prior, refresh the top-k table, train one
// epoch (from any step, so a job resumes mid-epoch), and extract features for evaluation.
// Backbone and head are data-parallel (gradients all-reduced), the classifier is sharded.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "worker/classifier/classifier.h"
#include "worker/comm/communicator.h"
#include "worker/data/distributed_sampler.h"
#include "worker/data/fashion_mnist.h"
#include "worker/training/trainer_config.h"

namespace mw {

class Trainer {
 public:
  // images must outlive the trainer; comm too.
  static Status Create(const TrainerConfig& config, Communicator* comm, const GreyImages* images,
                       std::unique_ptr<Trainer>* out);
  ~Trainer();

  // Contrastive prior: with the network as initialised, in train mode (BN statistics
  // updating) and without gradients, sets each of this rank's classifier rows to the
  // normalised embedding of its own image.
  Status InitializeFromPrior();

  // Top-k of the classifier rows, routed to the ranks that load each instance in `epoch`.
  Status RefreshNeighbors(int64_t epoch);

  // Steps [first_step, steps_per_epoch) of `epoch`; mean loss over them in *mean_loss.
  Status TrainEpoch(int64_t epoch, int64_t first_step, double* mean_loss);

  // Backbone features of images [0, count) of `images`, in eval mode: [count, feature_dim].
  at::Tensor Features(const GreyImages& images, int64_t count);

  int64_t steps_per_epoch() const { return sampler_.steps_per_epoch(); }

 private:
  struct Model;
  Trainer(const TrainerConfig& config, Communicator* comm, const GreyImages* images);
  double LearningRate(double base, int64_t epoch, int64_t step) const;
  Status AllReduceGradients();

  TrainerConfig config_;
  Communicator* comm_;
  const GreyImages* images_;
  DistributedSampler sampler_;
  Augmenter augmenter_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Classifier> classifier_;
  at::Tensor neighbors_;  // [ids this rank loads this epoch, k], in sampler order
};

}  // namespace mw
