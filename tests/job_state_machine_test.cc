// The job state machine walks prior -> [refresh, train, checkpoint]* -> evaluate, a restart
// from any record resumes after the last committed checkpoint, and a mid-epoch checkpoint
// resumes at its step, and a checkpoint cadence cuts an epoch where the spec asks.
#include <gtest/gtest.h>

#include <string>
#include <vector>

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
  while (JobStateMachine::Next(&job, plan, outcome, &next, Cadence{/*train_chunks_per_epoch=*/3})) {
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

TEST(JobStateMachine, AMidEpochCheckpointResumesAtItsStep) {
  JobRecord job;
  job.epochs = 2;
  job.epoch = 1;
  job.last_checkpoint = 1;
  job.steps_per_epoch = 40;
  TaskPlan plan;
  EXPECT_FALSE(JobStateMachine::CheckpointNow(job, &plan));  // step 0: checkpoint 1 holds it
  job.step = 14;
  ASSERT_TRUE(JobStateMachine::CheckpointNow(job, &plan));
  EXPECT_EQ(plan.kind, TaskKind::kCheckpoint);
  EXPECT_EQ(plan.checkpoint, 2u);
  EXPECT_EQ(plan.first_step, 14u);
  TaskPlan next;
  ASSERT_TRUE(JobStateMachine::Next(&job, plan, TaskOutcome(), &next, Cadence{3}));
  EXPECT_EQ(job.last_checkpoint, 2u);
  EXPECT_EQ(job.epoch, 1u);  // still in the epoch
  EXPECT_EQ(job.checkpoint_step, 14u);
  EXPECT_FALSE(JobStateMachine::CheckpointNow(job, &plan));  // nothing new since

  // A gang restarted now loads checkpoint 2 and trains on from step 14.
  job.step = 30;  // progress after the commit is lost with the gang
  const TaskPlan start = JobStateMachine::Start(job);
  EXPECT_EQ(start.checkpoint, 2u);
  EXPECT_EQ(start.first_step, 14u);
  TaskOutcome started;
  started.steps_per_epoch = 40;
  ASSERT_TRUE(JobStateMachine::Next(&job, start, started, &next, Cadence{3}));
  EXPECT_EQ(next.kind, TaskKind::kTrain);
  EXPECT_EQ(next.epoch, 1u);
  EXPECT_EQ(next.first_step, 14u);
  EXPECT_EQ(next.last_step, 28u);
  EXPECT_EQ(job.step, 14u);

  // The epoch's own checkpoint is not mid-epoch: the next epoch starts with a refresh.
  job.step = 40;
  EXPECT_FALSE(JobStateMachine::CheckpointNow(job, &plan));
  TaskPlan end;
  end.kind = TaskKind::kCheckpoint;
  end.epoch = 1;
  end.checkpoint = 3;
  ASSERT_TRUE(JobStateMachine::Next(&job, end, TaskOutcome(), &next, Cadence{3}));
  EXPECT_EQ(job.epoch, 2u);
  EXPECT_EQ(job.checkpoint_step, 0u);
  EXPECT_EQ(next.kind, TaskKind::kEvaluate);
}

TEST(JobStateMachine, ACheckpointCadenceCutsTheEpochAtEveryMultiple) {
  JobRecord job;
  job.epochs = 1;
  const Cadence cadence{/*train_chunks_per_epoch=*/3, /*checkpoint_every_steps=*/25};
  TaskPlan plan = JobStateMachine::Start(job);
  TaskOutcome outcome;
  outcome.steps_per_epoch = 40;
  std::vector<std::string> walk;
  TaskPlan next;
  while (JobStateMachine::Next(&job, plan, outcome, &next, cadence)) {
    plan = next;
    if (plan.kind == TaskKind::kTrain) {
      walk.push_back("t" + std::to_string(plan.first_step) + "-" + std::to_string(plan.last_step));
    } else if (plan.kind == TaskKind::kCheckpoint) {
      walk.push_back("c" + std::to_string(plan.checkpoint) + "@" + std::to_string(plan.first_step));
    } else {
      walk.push_back(plan.kind == TaskKind::kTopKRefresh ? "r" : "e");
    }
  }
  // Chunks of 14 steps, cut at step 25 for checkpoint 1; the epoch's own at its end is
  // checkpoint 2 (first_step 0: the next epoch starts from its beginning).
  const std::vector<std::string> expected = {"r",      "t0-14",  "t14-25", "c1@25",
                                             "t25-39", "t39-40", "c2@0",   "e"};
  EXPECT_EQ(walk, expected);

  // A gang restarted after checkpoint 1 resumes at step 25, and one that checkpointed on a
  // SIGTERM at step 14 goes on to the cadence's next multiple.
  job.epoch = 0;
  job.last_checkpoint = 1;
  job.checkpoint_step = 25;
  ASSERT_TRUE(JobStateMachine::Next(&job, JobStateMachine::Start(job), outcome, &next, cadence));
  EXPECT_EQ(next.first_step, 25u);
  EXPECT_EQ(next.last_step, 39u);
  job.last_checkpoint = 1;
  job.checkpoint_step = 14;
  ASSERT_TRUE(JobStateMachine::Next(&job, JobStateMachine::Start(job), outcome, &next, cadence));
  EXPECT_EQ(next.first_step, 14u);
  EXPECT_EQ(next.last_step, 25u);
}

TEST(JobStateMachine, ATaskCutShortOrAResumeOnAnotherWKeepsItsPlaceInTheEpoch) {
  JobRecord job;
  job.epochs = 1;
  job.steps_per_epoch = 40;
  const Cadence cadence{/*train_chunks_per_epoch=*/3, /*checkpoint_every_steps=*/0};
  // A member's SIGTERM stopped the gang after step 4 of [0, 14): the job stands at step 5.
  TaskPlan train;
  train.kind = TaskKind::kTrain;
  train.first_step = 0;
  train.last_step = 14;
  TaskOutcome cut;
  cut.stopped_at_step = 5;
  TaskPlan next;
  ASSERT_TRUE(JobStateMachine::Next(&job, train, cut, &next, cadence));
  EXPECT_EQ(job.step, 5u);
  TaskPlan save;
  ASSERT_TRUE(JobStateMachine::CheckpointNow(job, &save));
  EXPECT_EQ(save.first_step, 5u);

  // Checkpoint 1 taken there by 2 ranks; a gang of another size resumes after as many
  // samples (step s of W ranks has used s W b of them), rounded down, never to step 0.
  job.last_checkpoint = 1;
  job.checkpoint_step = 10;
  job.checkpoint_world_size = 2;
  EXPECT_EQ(JobStateMachine::Start(job, 2).first_step, 10u);
  EXPECT_EQ(JobStateMachine::Start(job, 4).first_step, 5u);
  EXPECT_EQ(JobStateMachine::Start(job, 3).first_step, 6u);
  EXPECT_EQ(JobStateMachine::Start(job, 1).first_step, 20u);
  EXPECT_EQ(JobStateMachine::Start(job, 64).first_step, 1u);
  // Resumed on 1 rank, whose epoch is capped at 15 steps: the epoch's training is done, so
  // its own checkpoint comes next.
  TaskOutcome started;
  started.steps_per_epoch = 15;
  ASSERT_TRUE(JobStateMachine::Next(&job, JobStateMachine::Start(job, 1), started, &next, cadence));
  EXPECT_EQ(next.kind, TaskKind::kCheckpoint);
  EXPECT_EQ(next.first_step, 0u);
  EXPECT_EQ(next.checkpoint, 2u);

  // Resumed on 4 ranks at step 5 (the record says 10, in the 2 ranks' steps): a member
  // leaving at step 8 has 3 steps to save, which only the gang's own step units show.
  job.steps_per_epoch = 40;
  const TaskPlan on_four = JobStateMachine::Start(job, 4);
  ASSERT_EQ(on_four.first_step, 5u);
  job.step = 8;
  EXPECT_TRUE(JobStateMachine::CheckpointNow(job, on_four.first_step, &save));
  EXPECT_EQ(save.first_step, 8u);
  EXPECT_FALSE(JobStateMachine::CheckpointNow(job, &save));  // 8 <= 10: the record's units
}

}  // namespace
}  // namespace mw
