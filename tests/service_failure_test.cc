// The service under failures, as real processes on loopback (LocalCluster):
//  - as `mwctl local` runs it, a worker, a shard server and the coordinator killed at once
//    are each restarted, on their addresses;
//  - kill -9 of a gang member after the first checkpoint: the job resumes from that
//    checkpoint on the surviving worker and a spare, and completes;
//  - kill -9 of a gang member at a random step of the second epoch, several trials, and a
//    SIGTERM mid-epoch (the gang checkpoints at that step first): each resumed job's final
//    checkpoint equals an uninterrupted run's (same spec and seeds);
//  - an elastic job scaled from W = 2 to W = 3 regangs at its next checkpoint, then, two of
//    its three workers killed, finishes on the last one (rows resharded on every load);
//  - kill -9 of the coordinator mid-job, restarted on the same database: the running job
//    resumes from its last checkpoint (no epoch before it is redone) and the queued one waits,
//    both complete.
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "tests/support/cluster_test.h"

namespace mw {
namespace {

namespace v1 = millionway::v1;

using ServiceFailure = ClusterTest;

// kNN top-1 above the random-init network's on the same images (measured with `mwctl train`
// and evaluate_before_training): 0.367 for kThreeEpochSpec's 600/300 images (trained: 0.447),
// 0.380 for the elastic test's 400/200 (trained: 0.480 at W = 2, 0.505 at W = 1). A job that
// learned nothing fails these.
constexpr double kLearnedKnn = 0.40;
constexpr double kLearnedKnnElastic = 0.41;

TEST_F(ServiceFailure, WhatExitsIsRestartedAsAPodWouldBe) {
  options_.restart_exited = true;  // as `mwctl local` runs
  ASSERT_TRUE(LocalCluster::Start(options_, &cluster_).ok());
  const std::vector<std::string> names = {"worker-1", "shard-server-0", "coordinator"};
  std::map<std::string, pid_t> before;
  for (const auto& name : names) {
    before[name] = cluster_->ProcessId(name);
    ASSERT_GT(before[name], 0) << name;
    ::kill(before[name], SIGKILL);
  }
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  // (-1 is a process reaped and not yet restarted; kill(-1, 0) would ask about every process.)
  const auto restarted = [&](const std::string& name) {
    const pid_t now = cluster_->ProcessId(name);
    return now > 0 && now != before[name] && ::kill(now, 0) == 0;
  };
  for (const auto& name : names) {
    while (std::chrono::steady_clock::now() < end && !restarted(name)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_TRUE(restarted(name)) << name << " was not restarted";
  }
  // Each came back where it was: the coordinator answers on its address, with its data, and
  // the shard server on its own.
  std::unique_ptr<JobClient> client;
  ASSERT_TRUE(JobClient::Connect(cluster_->UserConnection(), &client).ok());
  const std::string id = Submit();
  v1::Job job;
  EXPECT_TRUE(client->Get(id, &job).ok());
  // Stopping stops the restarts, and stops the restarted processes as it stops the others:
  // with SIGTERM (a worker still loading LibTorch may die of it, 128 + 15, before its
  // handler is in place), never the SIGKILL the restarting thread's end would send them, as
  // PR_SET_PDEATHSIG follows the thread that forked a child.
  cluster_->Stop();
  for (const auto& name : names) EXPECT_EQ(cluster_->ProcessId(name), -1) << name;
  for (ChildProcess* p :
       {&cluster_->worker(1), &cluster_->shard_server(0), &cluster_->coordinator()}) {
    EXPECT_NE(p->exit_code(), 128 + SIGKILL);
  }
}

TEST_F(ServiceFailure, KillNineOfAWorkerResumesFromTheLastCheckpoint) {
  options_.workers = 3;  // a gang of 2 and a spare
  ASSERT_TRUE(LocalCluster::Start(options_, &cluster_).ok());
  const std::string id = Submit();
  const v1::Job running = WaitFor(id, [](const v1::Job& j) { return j.last_checkpoint() >= 1; });
  ASSERT_EQ(running.workers_size(), 2);
  const int victim = WorkerIndex(running.workers(1));
  cluster_->worker(victim).Signal(SIGKILL);
  const v1::Job done = WaitFor(
      id, [](const v1::Job& j) { return j.state() == v1::COMPLETED || j.state() == v1::FAILED; });
  EXPECT_EQ(done.state(), v1::COMPLETED) << done.failure();
  EXPECT_EQ(done.epoch(), 3u);
  EXPECT_GE(done.attempts(), 2u);
  EXPECT_GT(done.last_evaluation().knn_top1(), kLearnedKnn);
}

TEST_F(ServiceFailure, ResumedRunsEqualAnUninterruptedRun) {
  constexpr char kTwoEpochs[] = R"({"train_subset": 400, "test_subset": 200, "epochs": 2,
    "local_batch": 50, "top_k": 10, "lr": 0.1, "classifier_lr": 1.0, "warmup_epochs": 0,
    "linear_probe": false, "seed": 7})";
  constexpr int64_t kRows = 400;
  constexpr int kTrials = 3;
  options_.workers = 3;  // a gang of 2 and a spare
  ASSERT_TRUE(LocalCluster::Start(options_, &cluster_).ok());

  const std::string reference = Submit(kTwoEpochs);
  const v1::Job finished = WaitFor(reference, Finished);
  ASSERT_EQ(finished.state(), v1::COMPLETED) << finished.failure();
  const auto expected = ReadCheckpoint(reference, 2, kRows);
  ASSERT_EQ(expected.at("classifier.weight").size(), kRows * 128 * sizeof(float));
  // Bit-identical, as the docs claim: the same bytes (so a NaN cannot compare equal to a
  // number, as it could under a tolerance).
  const auto expect_equal_to_reference = [&](const std::string& id, uint64_t checkpoint) {
    const auto resumed = ReadCheckpoint(id, checkpoint, kRows);
    for (const char* tensor : {"classifier.weight", "classifier.momentum", "backbone"}) {
      EXPECT_TRUE(resumed.at(tensor) == expected.at(tensor)) << tensor << " differs";
    }
  };

  const unsigned seed = std::random_device()();
  std::mt19937 random(seed);
  // A trial counts only when its kill landed before the job finished; one that came too late
  // proves nothing and is drawn again.
  int trials = 0;
  for (int draw = 0; trials < kTrials && draw < 3 * kTrials; ++draw) {
    RestartExitedWorkers(3);
    const std::string id = Submit(kTwoEpochs);
    // A random point of the second epoch: after `step` of its steps (0: in the top-k
    // refresh; all of them: writing the checkpoint), plus up to 200 ms.
    const auto step = std::uniform_int_distribution<uint64_t>(0, 4)(random);
    const auto delay = std::uniform_int_distribution<int64_t>(0, 200)(random);
    const auto rank = std::uniform_int_distribution<int>(0, 1)(random);
    SCOPED_TRACE("draw " + std::to_string(draw) + " (seed " + std::to_string(seed) +
                 "): kill -9 of rank " + std::to_string(rank) + " " + std::to_string(delay) +
                 " ms after step " + std::to_string(step) + " of epoch 2");
    const v1::Job running = WaitFor(id, [&](const v1::Job& j) {
      return j.last_checkpoint() >= 2 || (j.last_checkpoint() == 1 && j.step() >= step);
    });
    ASSERT_EQ(running.workers_size(), 2);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    const int victim = WorkerIndex(running.workers(rank));
    cluster_->worker(victim).Signal(SIGKILL);
    v1::Job killed;
    ASSERT_TRUE(Client()->Get(id, &killed).ok());
    ASSERT_TRUE(cluster_->RestartWorker(victim).ok());  // the spare for the next trial
    const v1::Job done = WaitFor(id, Finished);
    ASSERT_EQ(done.state(), v1::COMPLETED) << done.failure();
    EXPECT_EQ(done.last_checkpoint(), 2u);
    if (killed.state() == v1::COMPLETED || killed.last_checkpoint() >= 2) continue;
    ++trials;
    EXPECT_GE(done.attempts(), 2u);
    expect_equal_to_reference(id, 2);
  }
  EXPECT_EQ(trials, kTrials) << "too many kills landed after the job's end";

  // SIGTERM mid-epoch: the gang checkpoints at the step it reached (checkpoint 2, with the
  // epoch's top-k table), the worker exits 0, and the job resumes at that step on the others.
  // A survivor of the last kill may still be leaving its gang: if that overruns, it exits to
  // be restarted, which the wait below does (the job needs two of the three).
  RestartExitedWorkers(3);
  const std::string id = Submit(kTwoEpochs);
  const v1::Job running =
      WaitFor(id, [](const v1::Job& j) { return j.last_checkpoint() == 1 && j.step() >= 1; });
  ASSERT_EQ(running.last_checkpoint(), 1u);
  const int leaver = WorkerIndex(running.workers(1));
  cluster_->worker(leaver).Signal(SIGTERM);
  ASSERT_TRUE(cluster_->worker(leaver).Wait(std::chrono::seconds(30)));
  EXPECT_EQ(cluster_->worker(leaver).exit_code(), 0);
  const v1::Job done = WaitFor(id, [&](const v1::Job& j) {
    RestartExitedWorkers(3);  // the leaver too, now that its exit code is checked
    return Finished(j);
  });
  ASSERT_EQ(done.state(), v1::COMPLETED) << done.failure();
  EXPECT_EQ(done.attempts(), 2u);
  EXPECT_EQ(done.last_checkpoint(), 3u);  // 1, the mid-epoch one, the epoch's end
  expect_equal_to_reference(id, 3);
}

TEST_F(ServiceFailure, AnElasticJobRegangsAtCheckpoints) {
  constexpr char kFourEpochs[] = R"({"train_subset": 400, "test_subset": 200, "epochs": 4,
    "local_batch": 50, "top_k": 10, "lr": 0.1, "classifier_lr": 1.0, "warmup_epochs": 0,
    "linear_probe": false})";
  options_.workers = 3;
  ASSERT_TRUE(LocalCluster::Start(options_, &cluster_).ok());
  const std::string id = Submit(kFourEpochs);  // not elastic yet: it waits for both workers
  v1::Job job = WaitFor(id, [](const v1::Job& j) { return j.last_checkpoint() >= 1; });
  EXPECT_EQ(job.workers_size(), 2);
  v1::Job scaled;
  EXPECT_EQ(Client()->Scale(id, 3, 4, &scaled).code(), Status::Code::kInvalidArgument);
  ASSERT_TRUE(Client()->Scale(id, 3, 1, &scaled).ok());
  EXPECT_EQ(scaled.world_size(), 3u);

  // The gang of 2 finishes its epoch, commits, and restarts from that checkpoint with 3.
  job = WaitFor(id, [](const v1::Job& j) { return j.workers_size() == 3 || Finished(j); });
  ASSERT_EQ(job.workers_size(), 3) << job.failure();
  EXPECT_GE(job.last_checkpoint(), 2u);
  EXPECT_EQ(job.failure().rfind("regang", 0), 0u) << job.failure();
  const uint32_t attempts = job.attempts();
  for (int rank : {1, 2}) cluster_->worker(WorkerIndex(job.workers(rank))).Signal(SIGKILL);

  // No spare: the survivor carries on alone from the last checkpoint.
  job = WaitFor(id, [](const v1::Job& j) { return j.workers_size() == 1 || Finished(j); });
  EXPECT_EQ(job.workers_size(), 1);
  const v1::Job done = WaitFor(id, Finished);
  EXPECT_EQ(done.state(), v1::COMPLETED) << done.failure();
  EXPECT_EQ(done.epoch(), 4u);
  EXPECT_GT(done.attempts(), attempts);
  EXPECT_GT(done.last_evaluation().knn_top1(), kLearnedKnnElastic);
}

TEST_F(ServiceFailure, KillNineOfTheCoordinatorLosesNothing) {
  ASSERT_TRUE(LocalCluster::Start(options_, &cluster_).ok());
  const std::string id = Submit();
  const std::string queued = Submit();  // waits: the first holds both workers
  const v1::Job before = WaitFor(id, [](const v1::Job& j) { return j.last_checkpoint() >= 1; });
  cluster_->coordinator().Signal(SIGKILL);
  ASSERT_TRUE(cluster_->RestartCoordinator().ok());
  // Straight after the restart: committed progress kept, the queued job still queued.
  v1::Job after, waiting;
  ASSERT_TRUE(Client()->Get(id, &after).ok());
  EXPECT_GE(after.last_checkpoint(), before.last_checkpoint());
  ASSERT_TRUE(Client()->Get(queued, &waiting).ok());
  EXPECT_EQ(waiting.state(), v1::QUEUED);
  // Resumed from its checkpoint: one more gang start, and never back before that checkpoint.
  uint64_t lowest_epoch = after.epoch();
  const v1::Job done = WaitFor(id, [&](const v1::Job& j) {
    lowest_epoch = std::min<uint64_t>(lowest_epoch, j.epoch());
    return Finished(j);
  });
  EXPECT_EQ(done.state(), v1::COMPLETED) << done.failure();
  EXPECT_EQ(done.epoch(), 3u);
  EXPECT_GE(lowest_epoch, before.last_checkpoint());
  EXPECT_EQ(done.attempts(), before.attempts() + 1);
  const v1::Job second = WaitFor(queued, Finished);
  EXPECT_EQ(second.state(), v1::COMPLETED) << second.failure();
}

}  // namespace
}  // namespace mw
