// JobStore on a real SQLite file: ids, updates, paging, scheduling order, and everything
// still there after the store is closed and opened again; concurrent inserts (committed in
// groups) each get their own row.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <thread>

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

TEST(JobStore, ConcurrentInsertsEachGetTheirOwnDurableRow) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("mw_jobs_concurrent_" + std::to_string(getpid()) + ".db"))
                               .string();
  constexpr int kThreads = 8, kEach = 50;
  std::vector<std::vector<std::string>> ids(kThreads);
  {
    std::unique_ptr<JobStore> store;
    ASSERT_TRUE(JobStore::Open(path, &store).ok());
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) {
          JobRecord job;
          job.name = std::to_string(t) + "/" + std::to_string(i);
          job.spec_json = "{}";
          if (store->Insert(&job).ok()) ids[t].push_back(job.id);
        }
      });
    }
    for (auto& thread : threads) thread.join();
  }
  std::unique_ptr<JobStore> reopened;
  ASSERT_TRUE(JobStore::Open(path, &reopened).ok());
  std::set<std::string> unique;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(ids[t].size(), static_cast<size_t>(kEach));
    for (int i = 0; i < kEach; ++i) {
      JobRecord job;
      ASSERT_TRUE(reopened->Get(ids[t][i], &job).ok()) << ids[t][i];
      EXPECT_EQ(job.name, std::to_string(t) + "/" + std::to_string(i));
      unique.insert(job.id);
    }
  }
  EXPECT_EQ(unique.size(), static_cast<size_t>(kThreads * kEach));
  std::vector<JobRecord> all;
  ASSERT_TRUE(reopened->List(0, 0, 1000, &all).ok());
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kEach));
  reopened.reset();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
}

}  // namespace
}  // namespace mw
