// The service under failures, as real processes on loopback (LocalCluster):
//  - kill -9 of a gang member after the first checkpoint: the job resumes from that
//    checkpoint on the surviving worker and a spare, and completes;
//  - kill -9 of the coordinator mid-job, restarted on the same database: the job continues to
//    COMPLETED and nothing submitted is lost.
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <thread>

#include "cli/job_client.h"
#include "cli/local_cluster.h"
#include "common/process_group.h"

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
      ConnectionOptions connection;
      connection.address = cluster_->coordinator_address();
      if (JobClient::Connect(connection, &client).ok() && client->Get(id, &job).ok() && done(job)) {
        return job;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "timed out waiting on " << id;
    return job;
  }
  std::string Submit() {
    std::unique_ptr<JobClient> client;
    ConnectionOptions connection;
    connection.address = cluster_->coordinator_address();
    EXPECT_TRUE(JobClient::Connect(connection, &client).ok());
    v1::Job job;
    EXPECT_TRUE(client->Submit("failures", kSpec, 2, 0, &job).ok());
    return job.id();
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
  const int victim = std::stoi(running.workers(1).substr(std::string("worker-").size()));
  cluster_->worker(victim).Signal(SIGKILL);
  const v1::Job done = WaitFor(
      id, [](const v1::Job& j) { return j.state() == v1::COMPLETED || j.state() == v1::FAILED; });
  EXPECT_EQ(done.state(), v1::COMPLETED) << done.failure();
  EXPECT_EQ(done.epoch(), 3u);
  EXPECT_GE(done.attempts(), 2u);
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
