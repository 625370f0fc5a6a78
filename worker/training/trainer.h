// Trainer: one rank's share of a training job, as the tasks a worker is told to run:
// initialise the classifier from the contrastive prior, refresh the top-k table, train one
// epoch (from any step, so a job resumes mid-epoch), and extract features for evaluation.
// Backbone and head are data-parallel (gradients all-reduced), the classifier is sharded.
#pragma once

#include <ATen/core/Tensor.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "worker/classifier/classifier.h"
#include "worker/comm/communicator.h"
#include "worker/data/augmentation.h"
#include "worker/data/dataset.h"
#include "worker/data/distributed_sampler.h"
#include "worker/training/step_stats.h"
#include "worker/training/trainer_config.h"

namespace mw {

struct FineTuneOptions;

class Trainer {
 public:
  // data must outlive the trainer; comm too. The backbone takes data's channel count. The
  // model, the classifier's rows and each batch live on config.classifier.device; comm moves
  // that device's buffers (Gloo on the CPU, NCCL on a GPU: gang_communicator.h).
  static Status Create(const TrainerConfig& config, Communicator* comm, const Dataset* data,
                       std::unique_ptr<Trainer>* out);
  ~Trainer();

  // Sets this rank's classifier rows as config.init says. Contrastive prior: with the
  // network as initialised, in train mode (BN statistics updating) and without gradients,
  // each row becomes the normalised embedding of its own image; frozen-BN prior: the same in
  // eval mode; Gaussian: a random unit vector drawn from (seed, row), the same for any W.
  Status InitializeClassifier();
  // Images per pass of the prior, from this rank's first row: with batch statistics, an
  // image's embedding depends on the others in its pass.
  static constexpr int64_t kPriorChunk = 256;

  // Top-k of the classifier rows, routed to the ranks that load each instance in `epoch`.
  Status RefreshNeighbors(int64_t epoch);
  // Routes neighbor_rows() as they are (loaded from a mid-epoch checkpoint) for `epoch`.
  Status RouteNeighbors(int64_t epoch);
  // This rank's rows of the top-k table, [rows, k] int32, as of the last refresh: writable,
  // so a checkpoint loads into them; undefined when label smoothing is off (no table). A
  // mid-epoch checkpoint stores them: the epoch's targets come from the weights at its
  // start, which are gone by then. Ids are int32 (N < 2^31, which the job spec enforces):
  // at 14.2M rows and k = 100 the table and its routed copy take 11 GiB as int32, 21 as
  // int64.
  at::Tensor neighbor_rows() const { return neighbor_rows_; }

  // Steps [first_step, last_step) of `epoch`; mean loss over them in *mean_loss. When a
  // rank's stop flag (set_stop_flag) is up at a step, every rank stops after that step and
  // *stopped_at (if given) is the step it would have run next; else it is 0.
  Status TrainSteps(int64_t epoch, int64_t first_step, int64_t last_step, double* mean_loss,
                    int64_t* stopped_at = nullptr);
  // A flag (SIGTERM) that cuts TrainSteps short at a step all ranks agree on: each step's
  // gradient all-reduce carries the ranks' votes.
  void set_stop_flag(const std::atomic<bool>* stop) { stop_flag_ = stop; }
  // Steps [first_step, steps_per_epoch) of `epoch`.
  Status TrainEpoch(int64_t epoch, int64_t first_step, double* mean_loss) {
    return TrainSteps(epoch, first_step, steps_per_epoch(), mean_loss);
  }

  // Backbone features of every image of `data` (un-augmented), in eval mode:
  // [data.size(), feature_dim] on every rank. Each rank extracts a contiguous part; an
  // all-gather joins them.
  Status Features(const Dataset& data, at::Tensor* out);
  // This rank's part of them, without the gather: the images RowPartition(data.size(), W)
  // gives it, [its part's size, feature_dim].
  Status FeaturesPart(const Dataset& data, at::Tensor* out);
  // Features from every rank's FeaturesPart of a dataset of `size` images.
  Status GatherFeatures(const at::Tensor& part, int64_t size, at::Tensor* out);

  // L2-normalised embeddings of images [first, first + count) of `data`, un-augmented. With
  // batch_statistics the network runs in train mode: BN normalises by the batch and updates
  // its running statistics (the contrastive prior's pass); else in eval mode.
  Status Embeddings(const Dataset& data, int64_t first, int64_t count, bool batch_statistics,
                    at::Tensor* out);

  // Semi-supervised evaluation of the current backbone (see fine_tuning.h); collective.
  Status FineTune(const Dataset& train, const Dataset& test, const FineTuneOptions& options,
                  double* top1);

  // The replicated state (backbone, head, their optimizer) as bytes, and back; the same on
  // every rank, so rank 0's copy is the checkpoint's.
  Status SaveModel(std::string* out) const;
  Status LoadModel(const std::string& bytes);
  // The backbone as a torchvision-loadable state dict (state_dict_export.h).
  std::string BackboneStateDict() const;

  // This rank's classifier rows [row_begin, row_end) of the N x d matrix, and their momentum:
  // writable, so a checkpoint loads into them.
  at::Tensor classifier_rows() const;
  at::Tensor classifier_momentum() const;
  int64_t classifier_row_begin() const;

  int64_t steps_per_epoch() const {
    return config_.max_steps_per_epoch > 0
               ? std::min(config_.max_steps_per_epoch, sampler_.steps_per_epoch())
               : sampler_.steps_per_epoch();
  }

  // The gang's communicator for host buffers: comm itself on the CPU, comm behind a
  // StagedCommunicator on a GPU. Evaluation and the top-k refresh, which work on host
  // tensors, use it.
  Communicator& host_communicator() const { return *host_comm_; }

  // Called after every training step, on the training thread.
  void set_step_observer(std::function<void(const StepStats&)> observer) {
    step_observer_ = std::move(observer);
  }

 private:
  struct Model;
  Trainer(const TrainerConfig& config, Communicator* comm, const Dataset* data);
  double LearningRate(double base, int64_t epoch, int64_t step) const;
  // After a step's backward, in one all-reduce: sums the ranks' gradients, averages their
  // BN running statistics, and counts in *stop_votes the ranks whose stop flag is up.
  Status SynchronizeStep(int* stop_votes);
  // Each rank's BN running statistics come from its own batches; averaging them after every
  // pass that updates them keeps the replicas identical (what DDP's buffer broadcast is for),
  // so evaluation and checkpoints see one model whichever rank serves them.
  Status AverageBatchNormStatistics();
  std::vector<at::Tensor> BatchNormStatistics();  // floating buffers of backbone and head

  TrainerConfig config_;
  Communicator* comm_;
  c10::Device device_;
  std::unique_ptr<Communicator> staged_comm_;  // on a GPU: host buffers over comm_
  Communicator* host_comm_;
  const Dataset* data_;
  DistributedSampler sampler_;
  Augmenter augmenter_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Classifier> classifier_;
  at::Tensor neighbor_rows_;  // [this rank's classifier rows, k] int32
  at::Tensor neighbors_;      // [ids this rank loads this epoch, k] int32, in sampler order
  std::function<void(const StepStats&)> step_observer_;
  const std::atomic<bool>* stop_flag_ = nullptr;
};

}  // namespace mw
