// The service under failures, as real processes on loopback (LocalCluster):
//  - kill -9 of a gang member after the first checkpoint: the job resumes from that
//    checkpoint on the surviving worker and a spare, and completes;
//  - kill -9 of a gang member at a random step of the second epoch, several trials, and a
//    SIGTERM mid-epoch (the gang checkpoints at that step first): each resumed job's final
//    checkpoint equals an uninterrupted run's (same spec and seeds);
//  - an elastic job scaled from W = 2 to W = 3 regangs at its next checkpoint, then, two of
//    its three workers killed, finishes on the last one (rows resharded on every load);
//  - kill -9 of the coordinator mid-job, restarted on the same database: the job continues to
//    COMPLETED and nothing submitted is lost.
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "cli/job_client.h"
#include "cli/local_cluster.h"
#include "common/process_group.h"
#include "common/row_partition.h"
#include "shard_server/shard_client.h"

namespace mw {
namespace {

namespace v1 = millionway::v1;

constexpr char kSpec[] = R"({"train_subset": 600, "test_subset": 300, "epochs": 3,
  "local_batch": 50, "top_k": 10, "lr": 0.1, "classifier_lr": 1.0, "warmup_epochs": 0,
  "linear_probe": false})";

class ServiceFailure : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.dir =
        (std::filesystem::temp_directory_path() / ("mw_failure_" + std::to_string(getpid())))
            .string();
    options_.bin_dir = HelperPath("../bin");
    options_.heartbeat_timeout_ms = 2000;
    options_.collective_timeout_s = 10;
  }
  void TearDown() override {
    if (cluster_) cluster_->Stop();
    std::filesystem::remove_all(options_.dir);
  }
  // Polls Get (a watch stream would break with the coordinator) until `done` holds.
  v1::Job WaitFor(const std::string& id, const std::function<bool(const v1::Job&)>& done) {
    v1::Job job;
    for (int i = 0; i < 3000; ++i) {
      std::unique_ptr<JobClient> client;
      if (JobClient::Connect(cluster_->UserConnection(), &client).ok() &&
          client->Get(id, &job).ok() && done(job)) {
        return job;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "timed out waiting on " << id;
    return job;
  }
  std::unique_ptr<JobClient> Client() {
    std::unique_ptr<JobClient> client;
    EXPECT_TRUE(JobClient::Connect(cluster_->UserConnection(), &client).ok());
    return client;
  }
  std::string Submit(const char* spec = kSpec, uint32_t min_world_size = 0) {
    v1::Job job;
    EXPECT_TRUE(Client()->Submit("failures", spec, 2, 0, &job, min_world_size).ok());
    return job.id();
  }
  int WorkerIndex(const std::string& name) {
    return std::stoi(name.substr(std::string("worker-").size()));
  }
  static bool Finished(const v1::Job& j) {
    return j.state() == v1::COMPLETED || j.state() == v1::FAILED;
  }
  // What a resumed run must reproduce of a checkpoint, as stored: the classifier rows and
  // their momentum gathered from every server, and the backbone's state dict from server 0
  // (the "model" blob is a TorchScript archive whose bytes name modules by a per-process
  // counter, so equal models need not have equal bytes).
  std::map<std::string, std::string> ReadCheckpoint(const std::string& job, uint64_t checkpoint,
                                                    int64_t num_rows) {
    std::map<std::string, std::string> contents;
    const auto& addresses = cluster_->shard_addresses();
    const RowPartition ranges(num_rows, static_cast<int>(addresses.size()));
    for (size_t s = 0; s < addresses.size(); ++s) {
      ConnectionOptions connection = cluster_->UserConnection();
      connection.address = addresses[s];
      std::shared_ptr<grpc::Channel> channel;
      EXPECT_TRUE(OpenChannel(connection, &channel).ok());
      ShardClient client(channel);
      const int part = static_cast<int>(s);
      for (const char* tensor : {"classifier.weight", "classifier.momentum"}) {
        std::string rows;
        const Status read =
            client.ReadRows(job, checkpoint, tensor, static_cast<uint64_t>(ranges.begin(part)),
                            static_cast<uint64_t>(ranges.end(part)), &rows);
        EXPECT_TRUE(read.ok()) << read.ToString();
        contents[tensor] += rows;
      }
      if (s == 0) {
        EXPECT_TRUE(client.ReadBlob(job, checkpoint, "backbone.pt", &contents["backbone"]).ok());
      }
    }
    return contents;
  }

  LocalClusterOptions options_;
  std::unique_ptr<LocalCluster> cluster_;
};

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
  EXPECT_GT(done.last_evaluation().knn_top1(), 0.3);
}

float MaxAbsDifference(const std::string& a, const std::string& b) {
  EXPECT_EQ(a.size(), b.size());
  float worst = 0;
  for (size_t i = 0; i + sizeof(float) <= std::min(a.size(), b.size()); i += sizeof(float)) {
    float x, y;
    std::memcpy(&x, a.data() + i, sizeof x);
    std::memcpy(&y, b.data() + i, sizeof y);
    worst = std::max(worst, std::abs(x - y));
  }
  return worst;
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
  const auto expect_equal_to_reference = [&](const std::string& id, uint64_t checkpoint) {
    const auto resumed = ReadCheckpoint(id, checkpoint, kRows);
    for (const char* tensor : {"classifier.weight", "classifier.momentum"}) {
      EXPECT_LT(MaxAbsDifference(resumed.at(tensor), expected.at(tensor)), 1e-5f) << tensor;
    }
    EXPECT_TRUE(resumed.at("backbone") == expected.at("backbone")) << "the backbones differ";
  };

  const unsigned seed = std::random_device()();
  std::mt19937 random(seed);
  for (int trial = 0; trial < kTrials; ++trial) {
    const std::string id = Submit(kTwoEpochs);
    // A random point of the second epoch: after `step` of its steps (0: in the top-k
    // refresh; all of them: writing the checkpoint), plus up to 200 ms.
    const auto step = std::uniform_int_distribution<uint64_t>(0, 4)(random);
    const auto delay = std::uniform_int_distribution<int64_t>(0, 200)(random);
    const auto rank = std::uniform_int_distribution<int>(0, 1)(random);
    SCOPED_TRACE("trial " + std::to_string(trial) + " (seed " + std::to_string(seed) +
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
    if (killed.state() != v1::COMPLETED) {
      EXPECT_GE(done.attempts(), 2u);
    }
    expect_equal_to_reference(id, 2);
  }

  // SIGTERM mid-epoch: the gang checkpoints at the step it reached (checkpoint 2, with the
  // epoch's top-k table), the worker exits 0, and the job resumes at that step on the others.
  const std::string id = Submit(kTwoEpochs);
  const v1::Job running =
      WaitFor(id, [](const v1::Job& j) { return j.last_checkpoint() == 1 && j.step() >= 1; });
  ASSERT_EQ(running.last_checkpoint(), 1u);
  const int leaver = WorkerIndex(running.workers(1));
  cluster_->worker(leaver).Signal(SIGTERM);
  ASSERT_TRUE(cluster_->worker(leaver).Wait(std::chrono::seconds(30)));
  EXPECT_EQ(cluster_->worker(leaver).exit_code(), 0);
  const v1::Job done = WaitFor(id, Finished);
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
  EXPECT_GT(done.last_evaluation().knn_top1(), 0.3);
}

TEST_F(ServiceFailure, KillNineOfTheCoordinatorLosesNothing) {
  ASSERT_TRUE(LocalCluster::Start(options_, &cluster_).ok());
  const std::string id = Submit();
  WaitFor(id, [](const v1::Job& j) { return j.last_checkpoint() >= 1; });
  cluster_->coordinator().Signal(SIGKILL);
  ASSERT_TRUE(cluster_->RestartCoordinator().ok());
  const v1::Job done = WaitFor(
      id, [](const v1::Job& j) { return j.state() == v1::COMPLETED || j.state() == v1::FAILED; });
  EXPECT_EQ(done.state(), v1::COMPLETED) << done.failure();
  EXPECT_EQ(done.epoch(), 3u);
  EXPECT_GE(done.last_checkpoint(), 3u);
}

}  // namespace
}  // namespace mw
