// JobStateMachine: what a running job's gang does next, decided from the job's durable
// record alone, so a coordinator restarted from its database picks up exactly where the
// committed progress says:
//
//   START (prior, or load checkpoint) -> [TOPK_REFRESH -> TRAIN+ -> CHECKPOINT]* -> EVALUATE
//
// An epoch's training is split into a few TRAIN tasks so that progress and loss reach the
// job's watchers during the epoch.
// Progress only moves when a checkpoint commits, so anything after the last commit is redone
// after a failure. Checkpoints come at epoch ends, every `checkpoint_every_steps` steps when
// the spec asks, and mid-epoch when a gang must stop in good order (a worker leaving on
// SIGTERM): the gang restarts from that step.
#pragma once

#include <cstdint>

#include "coordinator/job_store.h"

namespace mw {

enum class TaskKind { kStart = 1, kTopKRefresh = 2, kTrain = 3, kCheckpoint = 4, kEvaluate = 5 };

struct TaskPlan {
  TaskKind kind = TaskKind::kStart;
  uint64_t epoch = 0;
  uint64_t first_step = 0;
  uint64_t last_step = 0;
  uint64_t checkpoint = 0;  // START: the one to load (0: prior); CHECKPOINT: the one to write
  // (first_step also marks a mid-epoch checkpoint: taken, or to load, after that many steps.)
};

// How an epoch's training is cut into tasks.
struct Cadence {
  // TRAIN tasks per epoch, so that progress and loss reach the job's watchers during it.
  int train_chunks_per_epoch = 1;
  // A mid-epoch checkpoint after every this many steps (0: at epoch ends only).
  uint64_t checkpoint_every_steps = 0;
};

// What the gang reported for a task, all ranks together.
struct TaskOutcome {
  double mean_loss = 0;
  uint64_t stopped_at_step = 0;  // TRAIN cut short (a member leaving): the step it reached
  uint64_t steps_per_epoch = 0;
  double knn_top1 = 0;
  double linear_top1 = 0;
};

class JobStateMachine {
 public:
  // The first task of a (re)started gang of `world_size` ranks (0: as the checkpoint's).
  static TaskPlan Start(const JobRecord& job, uint32_t world_size = 0);
  // A mid-epoch checkpoint of where the gang stands, for a gang that must stop; false when
  // it would save nothing the last checkpoint does not hold (saved_step: its step in this
  // gang's steps, which differ from the record's after a restart on another W), or the
  // epoch's own is next.
  static bool CheckpointNow(const JobRecord& job, uint64_t saved_step, TaskPlan* out);
  static bool CheckpointNow(const JobRecord& job, TaskPlan* out) {
    return CheckpointNow(job, job.checkpoint_step, out);
  }
  // The task after `done` succeeded; applies its outcome to `job` (the caller persists it).
  // Returns false when the job has nothing left to do (then it is COMPLETED).
  static bool Next(JobRecord* job, const TaskPlan& done, const TaskOutcome& outcome, TaskPlan* next,
                   const Cadence& cadence = Cadence());
};

// The job phase a task of this kind puts the job in (what Get and the metrics show).
JobPhase PhaseOf(TaskKind kind);

}  // namespace mw
