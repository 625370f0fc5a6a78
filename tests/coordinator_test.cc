// The Coordinator in process, driven by hand as its workers would drive it (Register, NextTask,
// Report), so that a test decides exactly when each report lands: what a stopped gang leaves
// behind is then checked right after the stop, with no window for the control loop to tidy
// up first. No task is run; the shard server address is never dialled (no checkpoint is
// committed here).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "common/metrics/metrics_server.h"
#include "coordinator/coordinator.h"

namespace mw {
namespace {

namespace v1 = millionway::v1;

constexpr char kSpec[] = R"({"train_subset": 100, "epochs": 1, "local_batch": 10})";

class CoordinatorByHand : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("mw_coord_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    ASSERT_TRUE(MetricsServer::Start({}, "coordinator_test", &metrics_server_).ok());
    metrics_ = std::make_unique<CoordinatorMetrics>(*metrics_server_);
    Open();
  }
  void TearDown() override {
    coordinator_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Open() {
    CoordinatorOptions options;
    options.database = (dir_ / "coordinator.db").string();
    options.shard_servers = {"127.0.0.1:1"};
    options.metrics = metrics_.get();
    ASSERT_TRUE(Coordinator::Create(options, &coordinator_).ok());
  }
  std::string Register(const std::string& name) {
    std::string id;
    EXPECT_TRUE(coordinator_->Register(name, name + ":29500", &id).ok());
    return id;
  }
  Status Submit(const std::string& name, uint32_t world_size, JobRecord* job) {
    bool created = false;
    return coordinator_->Submit(name, kSpec, world_size, 0, 0, false, job, &created);
  }
  v1::Task Next(const std::string& worker) {
    v1::Task task;
    const Status s = coordinator_->NextTask(worker, std::chrono::seconds(10), &task);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return task;
  }
  void Report(const std::string& worker, const v1::Task& task, bool ok) {
    v1::TaskReport report;
    report.set_worker_id(worker);
    report.set_task_id(task.task_id());
    report.set_ok(ok);
    if (!ok) report.set_error("injected by the test");
    ASSERT_TRUE(coordinator_->Report(report).ok());
  }

  std::filesystem::path dir_;
  std::unique_ptr<MetricsServer> metrics_server_;
  std::unique_ptr<CoordinatorMetrics> metrics_;
  std::unique_ptr<Coordinator> coordinator_;
};

// The gang of two stops (a rank fails) and the job goes back to the queue; a Scale to one
// worker in the same instant must be the job's new size: in Get, in the store (after a
// restart), and in the gang that starts next.
TEST_F(CoordinatorByHand, ScaleJustAfterAGangStopsIsKept) {
  const std::string a = Register("a");
  const std::string b = Register("b");
  JobRecord job;
  ASSERT_TRUE(Submit("scaled", 2, &job).ok());
  const v1::Task start_a = Next(a);
  const v1::Task start_b = Next(b);
  ASSERT_EQ(start_a.kind(), v1::TASK_START);
  ASSERT_EQ(start_a.world_size(), 2u);
  ASSERT_EQ(start_a.task_id(), start_b.task_id());

  Report(a, start_a, /*ok=*/false);
  JobRecord scaled;
  ASSERT_TRUE(coordinator_->Scale(job.id, 1, 1, &scaled).ok());
  EXPECT_EQ(scaled.world_size, 1u);
  EXPECT_EQ(scaled.state, JobState::kQueued);
  JobRecord now;
  ASSERT_TRUE(coordinator_->Get(job.id, &now).ok());
  EXPECT_EQ(now.world_size, 1u);
  EXPECT_EQ(now.state, JobState::kQueued);

  // Both members are told to stop; once they have, one of them starts the job alone.
  for (const auto& worker : {a, b}) {
    const v1::Task stop = Next(worker);
    ASSERT_EQ(stop.kind(), v1::TASK_STOP);
    Report(worker, stop, true);
  }
  v1::Task restarted;
  std::string member;
  for (int i = 0; i < 50 && member.empty(); ++i) {
    for (const auto& worker : {a, b}) {
      if (coordinator_->NextTask(worker, std::chrono::milliseconds(100), &restarted).ok()) {
        member = worker;
        break;
      }
    }
  }
  ASSERT_FALSE(member.empty()) << "the job did not start again";
  EXPECT_EQ(restarted.kind(), v1::TASK_START);
  EXPECT_EQ(restarted.world_size(), 1u);
  EXPECT_EQ(coordinator_->Gang(job.id).size(), 1u);

  coordinator_.reset();
  Open();
  ASSERT_TRUE(coordinator_->Get(job.id, &now).ok());
  EXPECT_EQ(now.world_size, 1u);
}

// A cancel just after a gang stops ends the job, and nothing of the stopped gang revives it.
TEST_F(CoordinatorByHand, CancelJustAfterAGangStopsEndsTheJob) {
  const std::string a = Register("a");
  JobRecord job;
  ASSERT_TRUE(Submit("cancelled", 1, &job).ok());
  const v1::Task start = Next(a);
  Report(a, start, /*ok=*/false);
  JobRecord cancelled;
  ASSERT_TRUE(coordinator_->Cancel(job.id, &cancelled).ok());
  EXPECT_EQ(cancelled.state, JobState::kCancelled);
  const v1::Task stop = Next(a);
  ASSERT_EQ(stop.kind(), v1::TASK_STOP);
  Report(a, stop, true);
  v1::Task none;
  EXPECT_EQ(coordinator_->NextTask(a, std::chrono::milliseconds(600), &none).code(),
            Status::Code::kDeadlineExceeded);
  EXPECT_TRUE(coordinator_->Gang(job.id).empty());
  JobRecord now;
  ASSERT_TRUE(coordinator_->Get(job.id, &now).ok());
  EXPECT_EQ(now.state, JobState::kCancelled);
}

}  // namespace
}  // namespace mw
