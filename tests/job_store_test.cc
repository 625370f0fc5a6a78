// JobStore on a real SQLite file: ids, updates, paging, scheduling order, and everything
// still there after the store is closed and opened again.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "coordinator/job_store.h"

namespace mw {
namespace {

TEST(JobStore, RecordsSurviveReopenAndListInOrder) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("mw_jobs_" + std::to_string(getpid()) + ".db"))
          .string();
  {
    std::unique_ptr<JobStore> store;
    ASSERT_TRUE(JobStore::Open(path, &store).ok());
    for (int i = 0; i < 5; ++i) {
      JobRecord job;
      job.name = "job " + std::to_string(i);
      job.spec_json = "{}";
      job.priority = i == 3 ? 10 : 0;
      ASSERT_TRUE(store->Insert(&job).ok());
      EXPECT_EQ(job.id, "job-" + std::to_string(i + 1));
    }
    JobRecord second;
    ASSERT_TRUE(store->Get("job-2", &second).ok());
    second.state = JobState::kRunning;
    second.epoch = 3;
    second.last_loss = 6.25;
    second.failure = "worker 'w1' lost";
    ASSERT_TRUE(store->Update(&second).ok());
    JobRecord ghost;
    ghost.id = "job-99";
    ghost.seq = 99;
    EXPECT_EQ(store->Update(&ghost).code(), Status::Code::kNotFound);
  }
  std::unique_ptr<JobStore> store;
  ASSERT_TRUE(JobStore::Open(path, &store).ok());
  JobRecord second;
  ASSERT_TRUE(store->Get("job-2", &second).ok());
  EXPECT_EQ(second.state, JobState::kRunning);
  EXPECT_EQ(second.epoch, 3u);
  EXPECT_DOUBLE_EQ(second.last_loss, 6.25);
  EXPECT_EQ(second.failure, "worker 'w1' lost");
  EXPECT_EQ(store->Get("job-9", &second).code(), Status::Code::kNotFound);

  std::vector<JobRecord> queued;
  ASSERT_TRUE(store->ByState(JobState::kQueued, &queued).ok());
  ASSERT_EQ(queued.size(), 4u);
  EXPECT_EQ(queued[0].id, "job-4");  // priority first
  EXPECT_EQ(queued[1].id, "job-1");  // then submission order
  EXPECT_EQ(queued[3].id, "job-5");

  std::vector<JobRecord> page;
  ASSERT_TRUE(store->List(0, 0, 2, &page).ok());
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].id, "job-5");
  ASSERT_TRUE(store->List(0, page.back().seq, 2, &page).ok());
  EXPECT_EQ(page[0].id, "job-3");
  ASSERT_TRUE(store->List(static_cast<int>(JobState::kRunning), 0, 10, &page).ok());
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].id, "job-2");
  store.reset();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
}

}  // namespace
}  // namespace mw
