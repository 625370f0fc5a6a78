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

}  // namespace

TaskPlan JobStateMachine::Start(const JobRecord& job) {
  TaskPlan plan;
  plan.kind = TaskKind::kStart;
  plan.epoch = job.epoch;
  plan.checkpoint = job.last_checkpoint;
  return plan;
}

bool JobStateMachine::Next(JobRecord* job, const TaskPlan& done, const TaskOutcome& outcome,
                           TaskPlan* next, int train_chunks_per_epoch) {
  const uint64_t chunks = static_cast<uint64_t>(std::max(1, train_chunks_per_epoch));
  const uint64_t chunk = std::max<uint64_t>(1, (job->steps_per_epoch + chunks - 1) / chunks);
  switch (done.kind) {
    case TaskKind::kStart:
      job->steps_per_epoch = outcome.steps_per_epoch;
      job->step = 0;
      *next = EpochStart(*job);
      break;
    case TaskKind::kTopKRefresh:
      next->kind = TaskKind::kTrain;
      next->epoch = done.epoch;
      next->first_step = 0;
      next->last_step = std::min(chunk, job->steps_per_epoch);
      break;
    case TaskKind::kTrain:
      job->step = done.last_step;
      job->last_loss = outcome.mean_loss;
      next->epoch = done.epoch;
      if (done.last_step < job->steps_per_epoch) {
        next->kind = TaskKind::kTrain;
        next->first_step = done.last_step;
        next->last_step = std::min(done.last_step + chunk, job->steps_per_epoch);
      } else {
        next->kind = TaskKind::kCheckpoint;
        next->checkpoint = job->last_checkpoint + 1;
      }
      break;
    case TaskKind::kCheckpoint:
      // Called once the checkpoint committed on every shard server.
      job->last_checkpoint = done.checkpoint;
      job->epoch = done.epoch + 1;
      job->step = 0;
      *next = EpochStart(*job);
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

}  // namespace mw
