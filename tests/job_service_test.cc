// JobService on a real coordinator with no workers, so that every job stays queued: pages of
// List follow each other without gaps or repeats, page sizes are bounded whatever their
// integer value, and Cancel and Scale act on queued jobs, durably (a restarted coordinator
// sees the same).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <numeric>
#include <set>
#include <thread>

#include "cli/job_client.h"
#include "cli/local_cluster.h"
#include "common/process_group.h"
#include "tests/support/server_process.h"

namespace mw {
namespace {

namespace v1 = millionway::v1;

constexpr char kSpec[] = R"({"train_subset": 100, "epochs": 1, "local_batch": 10})";

class JobServiceQueued : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.dir =
        (std::filesystem::temp_directory_path() / ("mw_jobs_" + std::to_string(getpid()))).string();
    options_.bin_dir = HelperPath("../bin");
    options_.shard_servers = 1;
    options_.workers = 0;
    ASSERT_TRUE(LocalCluster::Start(options_, &cluster_).ok());
    ASSERT_TRUE(JobClient::Connect(cluster_->UserConnection(), &client_).ok());
  }
  void TearDown() override {
    if (cluster_) cluster_->Stop();
    std::filesystem::remove_all(options_.dir);
  }
  std::string Submit() {
    v1::Job job;
    EXPECT_TRUE(client_->Submit("queued", kSpec, 2, 0, &job).ok());
    return job.id();
  }

  LocalClusterOptions options_;
  std::unique_ptr<LocalCluster> cluster_;
  std::unique_ptr<JobClient> client_;
};

TEST_F(JobServiceQueued, ListPagesCoverEveryJobOnceNewestFirst) {
  std::vector<std::string> submitted;
  for (int i = 0; i < 5; ++i) submitted.push_back(Submit());
  std::vector<std::string> listed;
  std::string token;
  int pages = 0;
  do {
    v1::ListJobsResponse page;
    ASSERT_TRUE(client_->List(v1::JOB_STATE_UNSPECIFIED, 2, token, &page).ok());
    EXPECT_LE(page.jobs_size(), 2);
    for (const auto& job : page.jobs()) listed.push_back(job.id());
    token = page.next_page_token();
    ASSERT_LT(++pages, 10);
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(listed, std::vector<std::string>(submitted.rbegin(), submitted.rend()));
  v1::ListJobsResponse page;
  EXPECT_EQ(client_->List(v1::JOB_STATE_UNSPECIFIED, 4294967295u, "", &page).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(client_->List(v1::JOB_STATE_UNSPECIFIED, 1001, "", &page).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(client_->List(v1::JOB_STATE_UNSPECIFIED, 2, "not-a-token", &page).code(),
            Status::Code::kInvalidArgument);
  ASSERT_TRUE(client_->List(v1::QUEUED, 0, "", &page).ok());
  EXPECT_EQ(page.jobs_size(), 5);
}

TEST_F(JobServiceQueued, CancelAndScaleActOnQueuedJobsDurably) {
  const std::string cancelled = Submit();
  const std::string scaled = Submit();
  v1::Job job;
  ASSERT_TRUE(client_->Cancel(cancelled, &job).ok());
  EXPECT_EQ(job.state(), v1::CANCELLED);
  ASSERT_TRUE(client_->Scale(scaled, 4, 2, &job).ok());
  EXPECT_EQ(job.world_size(), 4u);
  EXPECT_EQ(job.min_world_size(), 2u);
  EXPECT_EQ(job.state(), v1::QUEUED);
  EXPECT_EQ(client_->Scale(cancelled, 4, 2, &job).code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(client_->Scale(scaled, 0, 0, &job).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(client_->Scale(scaled, 2, 3, &job).code(), Status::Code::kInvalidArgument);

  cluster_->coordinator().Signal(SIGKILL);
  ASSERT_TRUE(cluster_->RestartCoordinator().ok());
  ASSERT_TRUE(JobClient::Connect(cluster_->UserConnection(), &client_).ok());
  ASSERT_TRUE(client_->Get(cancelled, &job).ok());
  EXPECT_EQ(job.state(), v1::CANCELLED);
  ASSERT_TRUE(client_->Get(scaled, &job).ok());
  EXPECT_EQ(job.state(), v1::QUEUED);
  EXPECT_EQ(job.world_size(), 4u);
  EXPECT_EQ(job.min_world_size(), 2u);
}

// Submits with if_absent are safe to repeat: eight at once with one name make one job (the
// rest get that job, created false), durably; without if_absent the name is just a label.
TEST_F(JobServiceQueued, SubmitIfAbsentMakesOneJobPerName) {
  constexpr int kSubmits = 8;
  std::vector<v1::Job> got(kSubmits);
  std::vector<int> created(kSubmits, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kSubmits; ++i) {
    threads.emplace_back([&, i] {
      std::unique_ptr<JobClient> client;
      bool made = false;
      ASSERT_TRUE(JobClient::Connect(cluster_->UserConnection(), &client).ok());
      ASSERT_TRUE(client->Submit("in21k", kSpec, 2, 0, &got[i], 0, true, &made).ok());
      created[i] = made ? 1 : 0;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::accumulate(created.begin(), created.end(), 0), 1);
  for (const auto& job : got) EXPECT_EQ(job.id(), got[0].id());

  v1::Job job;
  bool made = false;
  ASSERT_TRUE(client_->Submit("in21k", kSpec, 2, 0, &job, 0, false, &made).ok());
  EXPECT_TRUE(made);
  EXPECT_NE(job.id(), got[0].id());
  const Status unnamed = client_->Submit("", kSpec, 2, 0, &job, 0, true, &made);
  EXPECT_EQ(unnamed.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(unnamed.message().find("name"), std::string::npos) << unnamed.ToString();

  cluster_->coordinator().Signal(SIGKILL);
  ASSERT_TRUE(cluster_->RestartCoordinator().ok());
  ASSERT_TRUE(JobClient::Connect(cluster_->UserConnection(), &client_).ok());
  ASSERT_TRUE(client_->Submit("in21k", kSpec, 2, 0, &job, 0, true, &made).ok());
  EXPECT_FALSE(made);
  EXPECT_EQ(job.id(), got[0].id());
  EXPECT_EQ(job.state(), v1::QUEUED);
}

TEST(ServerLimits, CallsBeyondTheThreadQuotaAreResourceExhausted) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("mw_limits_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  ServerProcess coordinator;
  ASSERT_TRUE(coordinator
                  .Start(HelperPath("../bin/mw_coordinator"),
                         {"--database", (dir / "jobs.db").string(), "--shard-servers",
                          "127.0.0.1:1", "--allow-unauthenticated", "--max-threads", "4"})
                  .ok())
      << coordinator.Log();
  ConnectionOptions connection;
  connection.address = coordinator.address();
  std::unique_ptr<JobClient> client;
  ASSERT_TRUE(JobClient::Connect(connection, &client).ok());
  v1::Job job;
  ASSERT_TRUE(client->Submit("held", kSpec, 2, 0, &job).ok());
  // Each Watch of a queued job holds a server thread until it ends; 16 at once cannot all
  // have one.
  std::vector<std::thread> watchers;
  std::vector<Status> outcomes(16);
  for (size_t i = 0; i < outcomes.size(); ++i) {
    watchers.emplace_back([&, i] {
      std::unique_ptr<JobClient> own;
      if (!JobClient::Connect(connection, &own).ok()) return;
      outcomes[i] = own->Watch(
          job.id(), [](const v1::Job&) {}, std::chrono::seconds(3));
    });
  }
  for (auto& t : watchers) t.join();
  int exhausted = 0;
  for (const auto& s : outcomes) exhausted += s.code() == Status::Code::kResourceExhausted;
  EXPECT_GT(exhausted, 0);
  // It serves again once the watches are gone (their server threads notice within a second).
  Status served;
  for (int i = 0; i < 100 && !(served = client->Get(job.id(), &job)).ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(served.ok()) << served.ToString();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mw
