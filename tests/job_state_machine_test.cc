// The job state machine walks prior -> [refresh, train, checkpoint]* -> evaluate, and a
// restart from any record resumes after the last committed checkpoint.
#include <gtest/gtest.h>

#include "coordinator/job_state_machine.h"

namespace mw {
namespace {

TEST(JobStateMachine, WalksEveryEpochAndResumesFromTheLastCommit) {
  JobRecord job;
  job.epochs = 2;
  job.world_size = 2;
  TaskPlan plan = JobStateMachine::Start(job);
  EXPECT_EQ(plan.kind, TaskKind::kStart);
  EXPECT_EQ(plan.checkpoint, 0u);  // no checkpoint: the contrastive prior
  TaskOutcome outcome;
  outcome.steps_per_epoch = 40;
  std::vector<TaskKind> kinds;
  TaskPlan next;
  std::vector<uint64_t> train_ends;
  while (JobStateMachine::Next(&job, plan, outcome, &next, /*train_chunks_per_epoch=*/3)) {
    kinds.push_back(next.kind);
    plan = next;
    if (plan.kind == TaskKind::kTrain) train_ends.push_back(plan.last_step);
    if (plan.kind == TaskKind::kCheckpoint) {
      EXPECT_EQ(plan.checkpoint, job.last_checkpoint + 1);
      // A restart here, before the commit, redoes the epoch from the previous checkpoint.
      const TaskPlan restart = JobStateMachine::Start(job);
      EXPECT_EQ(restart.checkpoint, job.last_checkpoint);
      EXPECT_EQ(restart.epoch, plan.epoch);
    }
    outcome.knn_top1 = 0.5;
  }
  const TaskKind r = TaskKind::kTopKRefresh, t = TaskKind::kTrain, c = TaskKind::kCheckpoint;
  const std::vector<TaskKind> expected = {r, t, t, t, c, r, t, t, t, c, TaskKind::kEvaluate};
  EXPECT_EQ(kinds, expected);
  const std::vector<uint64_t> ends = {14, 28, 40, 14, 28, 40};  // 40 steps in chunks of 14
  EXPECT_EQ(train_ends, ends);
  EXPECT_EQ(job.epoch, 2u);
  EXPECT_EQ(job.last_checkpoint, 2u);
  EXPECT_DOUBLE_EQ(job.knn_top1, 0.5);
}

}  // namespace
}  // namespace mw
