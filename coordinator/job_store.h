// JobStore: the coordinator's durable record of every job, in SQLite (WAL journal,
// synchronous=FULL): a transaction that returned is on disk, so a coordinator killed at any
// instant and restarted finds every submitted job and all committed progress. The store
// keeps what a job is and where it got to; which workers run it lives in memory, since
// workers register again after a restart.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"

namespace mw {

enum class JobState { kQueued = 1, kRunning = 2, kCompleted = 3, kFailed = 4, kCancelled = 5 };
enum class JobPhase {
  kNone = 0,
  kPrior = 1,
  kTopKRefresh = 2,
  kTrain = 3,
  kCheckpoint = 4,
  kEvaluate = 5
};

bool IsFinal(JobState state);

struct JobRecord;
// The least W a job may run with: min_world_size, or world_size when not elastic.
uint32_t MinWorldSize(const JobRecord& job);

struct JobRecord {
  int64_t seq = 0;  // submission order, assigned by Insert
  std::string id;   // assigned by Insert: "job-<seq>"
  std::string name;
  std::string spec_json;
  uint32_t world_size = 1;      // W wanted
  uint32_t min_world_size = 0;  // elastic: runs on fewer (down to this) when no more are free
  int32_t priority = 0;
  JobState state = JobState::kQueued;
  JobPhase phase = JobPhase::kNone;
  uint64_t epoch = 0;  // epochs completed (and checkpointed)
  uint64_t epochs = 0;
  uint64_t step = 0;  // steps done in the current epoch
  uint64_t steps_per_epoch = 0;
  double last_loss = 0;
  double knn_top1 = 0;
  double linear_top1 = 0;
  uint64_t evaluated_epoch = 0;
  uint64_t last_checkpoint = 0;  // 0: none committed
  uint64_t checkpoint_step = 0;  // > 0: last_checkpoint was taken that many steps into `epoch`
  uint32_t checkpoint_world_size = 0;  // the gang size that wrote last_checkpoint
  // The shard servers last_checkpoint was written to, in partition order (empty: the
  // coordinator's own list, as before this was recorded).
  std::vector<std::string> checkpoint_shard_servers;
  uint32_t attempts = 0;
  uint32_t failures = 0;  // consecutive failed attempts
  std::string failure;
  bool cancel_requested = false;
  int64_t created_unix_ms = 0;
  int64_t updated_unix_ms = 0;
};

class JobStore {
 public:
  static Status Open(const std::string& path, std::unique_ptr<JobStore>* out);
  ~JobStore();

  // Assigns seq, id and timestamps; returns once the row is durable. Concurrent inserts are
  // committed together.
  Status Insert(JobRecord* job);
  // Insert, unless a job of the same name exists: then *job becomes the oldest of that name
  // and *existed is set. Decided inside the insert's transaction, so concurrent calls with one
  // name insert one row.
  Status InsertIfNameAbsent(JobRecord* job, bool* existed);
  // Replaces the job's row (by id); refreshes updated_unix_ms.
  Status Update(JobRecord* job);
  Status Get(const std::string& id, JobRecord* out);
  // Newest first. state 0: any. Jobs with seq < before_seq only (0: no bound).
  Status List(int state, int64_t before_seq, int limit, std::vector<JobRecord>* out);
  // Jobs in `state`, in scheduling order: priority descending, then submission order.
  Status ByState(JobState state, std::vector<JobRecord>* out);
  // How many jobs are in each state (by JobState's value).
  Status CountByState(std::map<int, int64_t>* out);

 private:
  explicit JobStore(sqlite3* db) : db_(db) {}
  struct PendingInsert;
  Status Exec(const std::string& sql);
  Status Enqueue(PendingInsert* insert);
  Status InsertBatch(const std::vector<PendingInsert*>& batch);
  Status InsertRow(JobRecord* job);
  // The oldest job named `name`, read on the writer's connection (inside its transaction).
  Status FindByNameLocked(const std::string& name, JobRecord* out, bool* found);
  Status Query(const std::string& where_order_limit, const std::vector<int64_t>& ints,
               const std::string& text, std::vector<JobRecord>* out);

  // Writes go through db_; reads through their own connection, which WAL lets run while a
  // write waits for its fsync, so readers never queue behind a commit.
  sqlite3* db_;
  sqlite3* reader_ = nullptr;
  std::mutex mutex_;
  std::mutex read_mutex_;
  std::mutex inserts_mutex_;
  std::deque<PendingInsert*> inserts_;  // waiting callers of Insert, in arrival order
};

int64_t NowUnixMs();

}  // namespace mw
