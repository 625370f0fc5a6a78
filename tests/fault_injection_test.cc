// Faults injected at named points (common/fault_points.h) into real processes on loopback,
// so that every window of the checkpoint commit is hit on purpose:
//  - the coordinator killed before, between and after the shard servers' commits (before
//    SQLite records the checkpoint), with a second job queued behind the first;
//  - a shard server killed before and after it renames its manifest into place, and one that
//    hangs (SIGSTOP) mid-commit past the coordinator's commit deadline, then resumes;
//  - an exception thrown inside each kind of worker task, and a task stuck on a live worker;
//  - a Submit whose read-back from SQLite fails.
// In every case the job completes, nothing queued is lost, and the faulted job's final
// checkpoint is bit-identical to that of an uninterrupted run of the same spec.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

#include "tests/support/cluster_test.h"
#include "worker/agent/agent.h"

namespace mw {
namespace {

namespace v1 = millionway::v1;

constexpr char kSeededSpec[] = R"({"train_subset": 400, "test_subset": 200, "epochs": 2,
  "local_batch": 50, "top_k": 10, "lr": 0.1, "classifier_lr": 1.0, "warmup_epochs": 0,
  "linear_probe": false, "seed": 11})";
constexpr int64_t kRows = 400;

class FaultInjection : public ClusterTest {
 protected:
  // Runs the uninterrupted reference (the cluster is whole again by now) and compares.
  void ExpectEqualToAnUninterruptedRun(const std::string& id) {
    const v1::Job faulted = WaitFor(id, Finished);
    ASSERT_EQ(faulted.state(), v1::COMPLETED) << faulted.failure();
    ASSERT_EQ(faulted.last_checkpoint(), 2u);
    const std::string reference = Submit(kSeededSpec);
    const v1::Job done = WaitFor(reference, Finished);
    ASSERT_EQ(done.state(), v1::COMPLETED) << done.failure();
    const auto expected = ReadCheckpoint(reference, 2, kRows);
    const auto got = ReadCheckpoint(id, 2, kRows);
    for (const char* tensor : {"classifier.weight", "classifier.momentum", "backbone"}) {
      EXPECT_FALSE(expected.at(tensor).empty()) << tensor;
      EXPECT_TRUE(got.at(tensor) == expected.at(tensor)) << tensor << " differs";
    }
  }
  std::string Log(const std::string& process) {
    std::ifstream in(options_.dir + "/" + process + ".log");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
};

// A fault point's test name: the last component of its name.
std::string LastComponent(const ::testing::TestParamInfo<const char*>& info) {
  const std::string name = info.param;
  return name.substr(name.rfind('.') + 1);
}

class AtFaultPoint : public FaultInjection, public ::testing::WithParamInterface<const char*> {};
using CoordinatorKilled = AtFaultPoint;
using ShardServerKilled = AtFaultPoint;

TEST_P(CoordinatorKilled, AtACommitPointLosesNoJob) {
  options_.fault_points["coordinator"] = std::string(GetParam()) + "=crash";
  ASSERT_TRUE(LocalCluster::Start(options_, &cluster_).ok());
  const std::string id = Submit(kSeededSpec);
  const std::string queued = Submit(kSeededSpec);  // waits: the first holds both workers
  // The first commit (checkpoint 1 of the first job) kills it.
  ASSERT_TRUE(cluster_->coordinator().Wait(std::chrono::seconds(300)));
  ASSERT_TRUE(cluster_->RestartCoordinator().ok());
  ExpectEqualToAnUninterruptedRun(id);
  const v1::Job second = WaitFor(queued, Finished);
  EXPECT_EQ(second.state(), v1::COMPLETED) << second.failure();
  // Past the first shard commit, the restarted coordinator found a checkpoint SQLite did not
  // record, and discarded it.
  const bool shards_committed = std::string(GetParam()) != "coordinator.commit.before_shards";
  EXPECT_EQ(Log("coordinator").find("half-committed") != std::string::npos, shards_committed);
}

INSTANTIATE_TEST_SUITE_P(CommitWindow, CoordinatorKilled,
                         ::testing::Values("coordinator.commit.before_shards",
                                           "coordinator.commit.between_shards",
                                           "coordinator.commit.after_shards"),
                         LastComponent);

TEST_P(ShardServerKilled, MidCommitServesNoTornCheckpoint) {
  options_.fault_points["shard-server-1"] = std::string(GetParam()) + "=crash";
  ASSERT_TRUE(LocalCluster::Start(options_, &cluster_).ok());
  const std::string id = Submit(kSeededSpec);
  ASSERT_TRUE(cluster_->shard_server(1).Wait(std::chrono::seconds(300)));
  // The commit failed; the job waits (queued, its checkpoint unreconciled) for the server.
  const v1::Job waiting = WaitFor(id, [](const v1::Job& j) {
    return j.failure().find("checkpoint commit failed") != std::string::npos;
  });
  EXPECT_EQ(waiting.last_checkpoint(), 0u);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // the job must not run meanwhile
  v1::Job still;
  ASSERT_TRUE(Client()->Get(id, &still).ok());
  EXPECT_EQ(still.state(), v1::QUEUED);
  ASSERT_TRUE(cluster_->RestartShardServer(1).ok());
  ExpectEqualToAnUninterruptedRun(id);
  EXPECT_NE(Log("coordinator").find("half-committed"), std::string::npos)
      << "nothing was discarded: the fault did not hit the window";
}

INSTANTIATE_TEST_SUITE_P(CommitWindow, ShardServerKilled,
                         ::testing::Values("shard.commit.before_manifest",
                                           "shard.commit.after_manifest"),
                         LastComponent);

// Held stopped past the coordinator's commit deadline, then resumed: the commit it was inside
// must not land after the coordinator gave up on it (it is refused, or discarded), and the
// job's next gang writes that checkpoint number afresh.
TEST_F(FaultInjection, AHungShardServerBlocksNeitherTheApiNorTheJob) {
  options_.fault_points["shard-server-0"] = "shard.commit.before_manifest=hang:1";
  options_.commit_timeout_s = 5;
  ASSERT_TRUE(LocalCluster::Start(options_, &cluster_).ok());
  const std::string id = Submit(kSeededSpec);
  // Wait until the server has stopped itself inside the commit.
  for (int i = 0; i < 3000 && Log("shard-server-0").find("fault point") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_NE(Log("shard-server-0").find("fault point"), std::string::npos);
  // The coordinator's commit call is blocked on the frozen server; its API is not.
  auto client = Client();
  v1::Job job;
  ASSERT_TRUE(client->Get(id, &job).ok());
  EXPECT_EQ(job.last_checkpoint(), 0u);
  v1::ListJobsResponse page;
  ASSERT_TRUE(client->List(v1::JOB_STATE_UNSPECIFIED, 10, "", &page).ok());
  EXPECT_EQ(page.jobs_size(), 1);
  // Past the deadline the coordinator gives up on the commit.
  const v1::Job gave_up = WaitFor(id, [](const v1::Job& j) {
    return j.failure().find("checkpoint commit failed") != std::string::npos;
  });
  EXPECT_NE(gave_up.failure().find("Deadline"), std::string::npos)
      << gave_up.failure() << Log("shard-server-0") << Log("coordinator");
  cluster_->shard_server(0).Signal(SIGCONT);
  ExpectEqualToAnUninterruptedRun(id);
}

TEST_F(FaultInjection, ASubmitWhoseReadBackFailsStillQueuesItsJob) {
  options_.fault_points["coordinator"] = "coordinator.submit.read_back=error:1";
  ASSERT_TRUE(LocalCluster::Start(options_, &cluster_).ok());
  const std::string id = Submit(kSeededSpec);
  ASSERT_FALSE(id.empty());
  const v1::Job done = WaitFor(id, Finished);
  EXPECT_EQ(done.state(), v1::COMPLETED) << done.failure();
  EXPECT_NE(Log("coordinator").find("read-back failed"), std::string::npos);
}

TEST_F(FaultInjection, ATaskStuckOnALiveWorkerIsStoppedAtItsDeadline) {
  // Both workers block inside their first training task while heartbeating on: only the
  // coordinator's per-task deadline notices.
  options_.task_timeout_s = 5;
  options_.fault_points["worker-0"] = "worker.task.TASK_TRAIN=block:1";
  options_.fault_points["worker-1"] = "worker.task.TASK_TRAIN=block:1";
  ASSERT_TRUE(LocalCluster::Start(options_, &cluster_).ok());
  const std::string id = Submit(kSeededSpec);
  const v1::Job stopped = WaitFor(id, [](const v1::Job& j) {
    return j.failure().find("passed its deadline") != std::string::npos || Finished(j);
  });
  EXPECT_NE(stopped.failure().find("without a report from rank(s) 0,1"), std::string::npos)
      << stopped.failure();
  for (int w = 0; w < 2; ++w) {  // the stuck workers are replaced, disarmed
    cluster_->worker(w).Signal(SIGKILL);
    ASSERT_TRUE(cluster_->RestartWorker(w).ok());
  }
  ExpectEqualToAnUninterruptedRun(id);
}

// A worker whose gang teardown never finishes (a transport stuck after its peer died) exits
// with code 3 once the teardown deadline passes, rather than heartbeating on while it can
// never join a gang again; restarted, it serves the next job.
TEST_F(FaultInjection, AWorkerStuckLeavingItsGangExitsToBeRestarted) {
  options_.fault_points["worker-0"] = "worker.teardown=block:1";
  ASSERT_TRUE(LocalCluster::Start(options_, &cluster_).ok());
  const std::string id = Submit(kSeededSpec);
  WaitFor(id, [](const v1::Job& j) { return j.phase() == v1::PHASE_TRAIN || Finished(j); });
  v1::Job cancelled;
  ASSERT_TRUE(Client()->Cancel(id, &cancelled).ok());
  ASSERT_TRUE(cluster_->worker(0).Wait(std::chrono::seconds(60)));
  EXPECT_EQ(cluster_->worker(0).exit_code(), kTeardownTimeoutExit);
  EXPECT_NE(Log("worker-0").find("leaving the gang did not finish"), std::string::npos);
  ASSERT_TRUE(cluster_->RestartWorker(0).ok());
  const std::string next = Submit(kSeededSpec);
  const v1::Job done = WaitFor(next, Finished);
  EXPECT_EQ(done.state(), v1::COMPLETED) << done.failure();
}

TEST_F(FaultInjection, AJobTooLargeForItsWorkersEndsFailedSayingWhy) {
  ASSERT_TRUE(LocalCluster::Start(options_, &cluster_).ok());
  // 2^31 - 1 instances at d = 4096: ~32 TiB of classifier per rank at W = 2.
  const std::string id = Submit(R"({"dataset": "synthetic", "synthetic_size": 2147483647,
    "dim": 4096, "epochs": 1})");
  const v1::Job done = WaitFor(id, Finished);
  EXPECT_EQ(done.state(), v1::FAILED);
  EXPECT_NE(done.failure().find("classifier share needs"), std::string::npos) << done.failure();
  for (int w = 0; w < 2; ++w) EXPECT_TRUE(cluster_->worker(w).running()) << "worker " << w;
}

// A GPU job given CPU-only workers (Debian's LibTorch has no CUDA) ends FAILED with the reason,
// and the workers live on for the next job.
TEST_F(FaultInjection, AGpuJobOnCpuOnlyWorkersEndsFailedSayingWhy) {
  ASSERT_TRUE(LocalCluster::Start(options_, &cluster_).ok());
  const std::string id = Submit(R"({"train_subset": 200, "test_subset": 100, "epochs": 1,
    "device": "cuda:0", "precision": "bf16"})");
  const v1::Job done = WaitFor(id, Finished);
  if (done.state() == v1::COMPLETED) GTEST_SKIP() << "these workers have a GPU: the job ran on it";
  EXPECT_EQ(done.state(), v1::FAILED);
  EXPECT_NE(done.failure().find("device cuda:0"), std::string::npos) << done.failure();
  EXPECT_NE(done.failure().find("without CUDA"), std::string::npos) << done.failure();
  for (int w = 0; w < 2; ++w) EXPECT_TRUE(cluster_->worker(w).running()) << "worker " << w;
}

TEST_F(FaultInjection, AWorkerSurvivesAnExceptionInEveryKindOfTask) {
  std::string armed;
  for (const char* kind :
       {"TASK_START", "TASK_TOPK_REFRESH", "TASK_TRAIN", "TASK_CHECKPOINT", "TASK_EVALUATE"}) {
    armed += (armed.empty() ? "" : ",") + std::string("worker.task.") + kind + "=throw:1";
  }
  options_.fault_points["worker-0"] = armed;
  options_.max_failures = 10;  // five injected failures, one per kind
  ASSERT_TRUE(LocalCluster::Start(options_, &cluster_).ok());
  const std::string id = Submit(kSeededSpec);
  const v1::Job done = WaitFor(id, Finished);
  EXPECT_EQ(done.state(), v1::COMPLETED) << done.failure();
  EXPECT_GE(done.attempts(), 6u);
  EXPECT_TRUE(cluster_->worker(0).running()) << "the worker died of an exception";
  const std::string log = Log("worker-0");
  for (const char* kind :
       {"TASK_START", "TASK_TOPK_REFRESH", "TASK_TRAIN", "TASK_CHECKPOINT", "TASK_EVALUATE"}) {
    EXPECT_NE(log.find(std::string(kind) + " threw: fault point"), std::string::npos) << kind;
  }
}

// Trials per random-kill test: 20 in CI; MW_SOAK_TRIALS=N for a longer soak.
int SoakTrials() {
  const char* env = std::getenv("MW_SOAK_TRIALS");
  return env != nullptr ? std::max(1, std::atoi(env)) : 20;
}

// A Fashion-MNIST job of `epochs` short epochs.
std::string SoakSpec(int epochs) {
  return R"({"train_subset": 200, "test_subset": 100, "local_batch": 50, "top_k": 10,
    "lr": 0.1, "classifier_lr": 1.0, "warmup_epochs": 0, "linear_probe": false, "seed": 5,
    "epochs": )" +
         std::to_string(epochs) + "}";
}

// Whether process `pid` is stopped (SIGSTOP, here by a `hang` fault point).
bool Stopped(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(stat, text);
  const size_t paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'T';
}

class RandomFaults : public FaultInjection {
 protected:
  // Runs `trial` `trials` times against a job of `epochs` epochs, long enough to outlast them
  // (a trial waits for its moment and injects one fault), with two more jobs queued behind; then
  // `settle` (makes the cluster whole), and checks that every job completes, none FAILED, every
  // checkpoint a server lists reads back whole, and the soaked job's final checkpoint equals an
  // uninterrupted run's.
  void Soak(
      int trials, int epochs, const std::function<void(const std::string&, std::mt19937&)>& trial,
      const std::function<void()>& settle = [] {}) {
    const std::string spec = SoakSpec(epochs);
    ASSERT_TRUE(LocalCluster::Start(options_, &cluster_).ok());
    const std::string id = Submit(spec.c_str());
    const std::string queued[2] = {Submit(kSeededSpec), Submit(kSeededSpec)};
    const unsigned seed = std::random_device()();
    std::mt19937 random(seed);
    SCOPED_TRACE("seed " + std::to_string(seed));
    for (int t = 0; t < trials && !HasFatalFailure(); ++t) trial(id, random);
    ASSERT_FALSE(HasFatalFailure());
    settle();
    const v1::Job done = WaitFor(id, Finished);
    ASSERT_EQ(done.state(), v1::COMPLETED) << done.failure();
    for (const auto& other : queued) {
      const v1::Job finished = WaitFor(other, Finished);
      EXPECT_EQ(finished.state(), v1::COMPLETED) << finished.failure();
    }
    // No torn checkpoint is served: every one server 0 lists reads back whole, checksums
    // verified, from every server.
    ConnectionOptions connection = cluster_->UserConnection();
    connection.address = cluster_->shard_addresses()[0];
    std::shared_ptr<grpc::Channel> channel;
    ASSERT_TRUE(OpenChannel(connection, &channel).ok());
    std::vector<uint64_t> listed;
    ASSERT_TRUE(ShardClient(channel).List(id, &listed).ok());
    EXPECT_FALSE(listed.empty());
    for (const uint64_t checkpoint : listed) {
      EXPECT_EQ(ReadCheckpoint(id, checkpoint, 200).at("classifier.weight").size(),
                200u * 128 * sizeof(float))
          << "checkpoint " << checkpoint;
    }
    const auto final_checkpoint = done.last_checkpoint();
    const std::string reference = Submit(spec.c_str());
    const v1::Job uninterrupted = WaitFor(reference, Finished);
    ASSERT_EQ(uninterrupted.state(), v1::COMPLETED) << uninterrupted.failure();
    const auto expected = ReadCheckpoint(reference, uninterrupted.last_checkpoint(), 200);
    const auto got = ReadCheckpoint(id, final_checkpoint, 200);
    for (const char* tensor : {"classifier.weight", "classifier.momentum", "backbone"}) {
      EXPECT_TRUE(got.at(tensor) == expected.at(tensor)) << tensor << " differs";
    }
  }
};

TEST_F(RandomFaults, CoordinatorKilledAtRandomInstantsLosesNothing) {
  uint64_t committed = 0;
  // One epoch's duration on this machine, timed between two checkpoints before the first kill.
  // Each kill waits for one more committed checkpoint, then lands within one epoch: anywhere in
  // the next epoch (top-k refresh, training, writing or committing its checkpoint). A trial so
  // costs the job about 1.5 epochs however fast the machine is; a fixed delay would let a fast
  // machine run the job out of epochs before the last trial.
  std::chrono::milliseconds epoch{0};
  Soak(SoakTrials(), 2 * SoakTrials() + 6, [&](const std::string& id, std::mt19937& random) {
    if (epoch.count() == 0) {
      const v1::Job first = WaitFor(id, [](const v1::Job& j) { return j.last_checkpoint() > 0; });
      const auto start = std::chrono::steady_clock::now();
      WaitFor(id, [&](const v1::Job& j) { return j.last_checkpoint() > first.last_checkpoint(); });
      epoch = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start);
    }
    const v1::Job job = WaitFor(id, [&](const v1::Job& j) {
      return Finished(j) || (j.state() == v1::RUNNING && j.last_checkpoint() > committed);
    });
    ASSERT_FALSE(Finished(job)) << "the job ended before the trials: " << job.failure();
    committed = job.last_checkpoint();
    std::this_thread::sleep_for(std::chrono::milliseconds(
        std::uniform_int_distribution<int64_t>(0, epoch.count())(random)));
    cluster_->coordinator().Signal(SIGKILL);
    ASSERT_TRUE(cluster_->RestartCoordinator().ok());
  });
}

TEST_F(RandomFaults, ShardServersKilledOrStoppedInsideCommits) {
  // Both servers stop themselves inside every commit, before and after their manifest rename;
  // each trial finds one stopped and, at random, kills it (restarted, armed again) or leaves
  // it stopped for up to 1 s: SoakTrials() of each. A commit attempt completes only if no
  // kill lands in it, so attempts fail in a row: no failure limit here.
  const std::string armed = "shard.commit.before_manifest=hang,shard.commit.after_manifest=hang";
  options_.fault_points["shard-server-0"] = armed;
  options_.fault_points["shard-server-1"] = armed;
  options_.max_failures = 100000;
  const int each = SoakTrials();
  int kills = 0, stops = 0;
  // Four stops per commit and a kill in most attempts: the trials fit in few epochs.
  Soak(
      2 * each, each / 2 + 4,
      [&](const std::string& id, std::mt19937& random) {
        int stopped = -1;
        for (int i = 0; i < 30000 && stopped < 0; ++i) {
          for (int s = 0; s < 2 && stopped < 0; ++s) {
            if (Stopped(cluster_->shard_server(s).pid())) stopped = s;
          }
          if (stopped < 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        ASSERT_GE(stopped, 0) << "no shard server reached a commit";
        v1::Job job;
        ASSERT_TRUE(Client()->Get(id, &job).ok());
        ASSERT_FALSE(Finished(job));
        const bool kill =
            stops == each || (kills < each && std::bernoulli_distribution(0.5)(random));
        if (kill) {
          cluster_->shard_server(stopped).Signal(SIGKILL);
          ASSERT_TRUE(cluster_->RestartShardServer(stopped, armed).ok());
          ++kills;
        } else {
          std::this_thread::sleep_for(
              std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 1000)(random)));
          cluster_->shard_server(stopped).Signal(SIGCONT);
          ++stops;
        }
      },
      [&] {
        // Disarmed: each server restarted plain (one more kill -9 for any stopped one).
        for (int s = 0; s < 2; ++s) {
          cluster_->shard_server(s).Signal(SIGKILL);
          ASSERT_TRUE(cluster_->RestartShardServer(s).ok());
        }
      });
  EXPECT_EQ(kills, each);
  EXPECT_EQ(stops, each);
}

}  // namespace
}  // namespace mw
