#include "coordinator/job_state_machine.h"

#include <algorithm>

namespace mw {

namespace {

TaskPlan EpochStart(const JobRecord& job) {
  TaskPlan plan;
  if (job.epoch >= job.epochs) {
    plan.kind = TaskKind::kEvaluate;
    plan.epoch = job.epoch;
    return plan;
  }
  plan.kind = TaskKind::kTopKRefresh;
  plan.epoch = job.epoch;
  return plan;
}

// The next chunk of the epoch's training from `step`, ending at the next checkpoint due.
TaskPlan TrainFrom(const JobRecord& job, uint64_t step, const Cadence& cadence) {
  const uint64_t chunks = static_cast<uint64_t>(std::max(1, cadence.train_chunks_per_epoch));
  const uint64_t chunk = std::max<uint64_t>(1, (job.steps_per_epoch + chunks - 1) / chunks);
  TaskPlan plan;
  plan.kind = TaskKind::kTrain;
  plan.epoch = job.epoch;
  plan.first_step = step;
  plan.last_step = std::min(step + chunk, job.steps_per_epoch);
  const uint64_t every = cadence.checkpoint_every_steps;
  if (every > 0) plan.last_step = std::min(plan.last_step, (step / every + 1) * every);
  return plan;
}

TaskPlan CheckpointAt(const JobRecord& job, uint64_t epoch, uint64_t step) {
  TaskPlan plan;
  plan.kind = TaskKind::kCheckpoint;
  plan.epoch = epoch;
  plan.first_step = step;
  plan.checkpoint = job.last_checkpoint + 1;
  return plan;
}

}  // namespace

TaskPlan JobStateMachine::Start(const JobRecord& job, uint32_t world_size) {
  TaskPlan plan;
  plan.kind = TaskKind::kStart;
  plan.epoch = job.epoch;
  plan.checkpoint = job.last_checkpoint;
  plan.first_step = job.last_checkpoint > 0 ? job.checkpoint_step : 0;
  const uint64_t written_by = job.checkpoint_world_size;
  if (plan.first_step > 0 && world_size > 0 && written_by > 0 && written_by != world_size) {
    // The epoch's order is one permutation whatever W is, and step s of W ranks has used
    // its first s W b samples: on another W the epoch resumes after as many, rounded down
    // (up to one global batch is seen twice), but not to step 0, which would mean no
    // mid-epoch state (the epoch's top-k table) to load: there, up to one is skipped.
    plan.first_step = std::max<uint64_t>(1, plan.first_step * written_by / world_size);
  }
  return plan;
}

bool JobStateMachine::CheckpointNow(const JobRecord& job, uint64_t saved_step, TaskPlan* out) {
  if (job.step <= saved_step || job.step >= job.steps_per_epoch) return false;
  *out = CheckpointAt(job, job.epoch, job.step);
  return true;
}

bool JobStateMachine::Next(JobRecord* job, const TaskPlan& done, const TaskOutcome& outcome,
                           TaskPlan* next, const Cadence& cadence) {
  const uint64_t every = cadence.checkpoint_every_steps;
  switch (done.kind) {
    case TaskKind::kStart:
      job->steps_per_epoch = outcome.steps_per_epoch;
      job->step = done.first_step;  // a mid-epoch checkpoint resumes where it was taken
      if (job->step == 0 || job->epoch >= job->epochs) {
        *next = EpochStart(*job);
      } else if (job->step >= job->steps_per_epoch) {
        *next = CheckpointAt(*job, job->epoch, 0);  // more ranks: nothing left of the epoch
      } else {
        *next = TrainFrom(*job, job->step, cadence);
      }
      break;
    case TaskKind::kTopKRefresh:
      *next = TrainFrom(*job, 0, cadence);
      break;
    case TaskKind::kTrain: {
      const uint64_t reached = outcome.stopped_at_step > done.first_step
                                   ? std::min(outcome.stopped_at_step, done.last_step)
                                   : done.last_step;
      job->step = reached;
      job->last_loss = outcome.mean_loss;
      if (reached >= job->steps_per_epoch) {
        *next = CheckpointAt(*job, done.epoch, 0);  // the epoch's own: the next starts at 0
      } else if (every > 0 && reached % every == 0) {
        *next = CheckpointAt(*job, done.epoch, reached);
      } else {
        *next = TrainFrom(*job, reached, cadence);
      }
      break;
    }
    case TaskKind::kCheckpoint:
      // Called once the checkpoint committed on every shard server.
      job->last_checkpoint = done.checkpoint;
      job->checkpoint_step = done.first_step;
      if (done.first_step > 0) {
        job->step = done.first_step;
        *next = TrainFrom(*job, job->step, cadence);
      } else {
        job->epoch = done.epoch + 1;
        job->step = 0;
        *next = EpochStart(*job);
      }
      break;
    case TaskKind::kEvaluate:
      job->knn_top1 = outcome.knn_top1;
      job->linear_top1 = outcome.linear_top1;
      job->evaluated_epoch = job->epoch;
      return false;
  }
  job->phase = next->kind == TaskKind::kTopKRefresh  ? JobPhase::kTopKRefresh
               : next->kind == TaskKind::kTrain      ? JobPhase::kTrain
               : next->kind == TaskKind::kCheckpoint ? JobPhase::kCheckpoint
                                                     : JobPhase::kEvaluate;
  return true;
}

JobPhase PhaseOf(TaskKind kind) {
  switch (kind) {
    case TaskKind::kStart:
      return JobPhase::kPrior;
    case TaskKind::kTopKRefresh:
      return JobPhase::kTopKRefresh;
    case TaskKind::kTrain:
      return JobPhase::kTrain;
    case TaskKind::kCheckpoint:
      return JobPhase::kCheckpoint;
    case TaskKind::kEvaluate:
      return JobPhase::kEvaluate;
  }
  return JobPhase::kNone;
}

}  // namespace mw
