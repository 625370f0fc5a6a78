#include "coordinator/job_store.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>

namespace mw {

namespace {

constexpr char kColumns[] =
    "seq, id, name, spec_json, world_size, priority, state, phase, epoch, epochs, step, "
    "steps_per_epoch, last_loss, knn_top1, linear_top1, evaluated_epoch, last_checkpoint, "
    "checkpoint_world_size, attempts, failures, failure, cancel_requested, created_unix_ms, "
    "updated_unix_ms, min_world_size, checkpoint_step, checkpoint_shard_servers";

// A checkpoint's shard servers as one column: addresses (host:port) hold no commas.
std::string JoinAddresses(const std::vector<std::string>& addresses) {
  std::string joined;
  for (const auto& a : addresses) joined += (joined.empty() ? "" : ",") + a;
  return joined;
}

std::vector<std::string> SplitAddresses(const std::string& joined) {
  std::vector<std::string> addresses;
  for (size_t start = 0; start < joined.size();) {
    const size_t end = std::min(joined.find(',', start), joined.size());
    addresses.push_back(joined.substr(start, end - start));
    start = end + 1;
  }
  return addresses;
}

// Frees a prepared statement on every path out of a function.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql) {
    rc_ = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

Status SqliteError(sqlite3* db, const std::string& what) {
  return Status::Internal(what + ": " + sqlite3_errmsg(db));
}

void BindText(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

std::string Text(sqlite3_stmt* s, int i) {
  const auto* p = sqlite3_column_text(s, i);
  return p == nullptr ? "" : reinterpret_cast<const char*>(p);
}

// Binds every column but seq, in kColumns order, from parameter 1.
void BindRecord(sqlite3_stmt* s, const JobRecord& j) {
  BindText(s, 1, j.id);
  BindText(s, 2, j.name);
  BindText(s, 3, j.spec_json);
  sqlite3_bind_int64(s, 4, j.world_size);
  sqlite3_bind_int64(s, 5, j.priority);
  sqlite3_bind_int64(s, 6, static_cast<int>(j.state));
  sqlite3_bind_int64(s, 7, static_cast<int>(j.phase));
  sqlite3_bind_int64(s, 8, static_cast<int64_t>(j.epoch));
  sqlite3_bind_int64(s, 9, static_cast<int64_t>(j.epochs));
  sqlite3_bind_int64(s, 10, static_cast<int64_t>(j.step));
  sqlite3_bind_int64(s, 11, static_cast<int64_t>(j.steps_per_epoch));
  sqlite3_bind_double(s, 12, j.last_loss);
  sqlite3_bind_double(s, 13, j.knn_top1);
  sqlite3_bind_double(s, 14, j.linear_top1);
  sqlite3_bind_int64(s, 15, static_cast<int64_t>(j.evaluated_epoch));
  sqlite3_bind_int64(s, 16, static_cast<int64_t>(j.last_checkpoint));
  sqlite3_bind_int64(s, 17, j.checkpoint_world_size);
  sqlite3_bind_int64(s, 18, j.attempts);
  sqlite3_bind_int64(s, 19, j.failures);
  BindText(s, 20, j.failure);
  sqlite3_bind_int64(s, 21, j.cancel_requested ? 1 : 0);
  sqlite3_bind_int64(s, 22, j.created_unix_ms);
  sqlite3_bind_int64(s, 23, j.updated_unix_ms);
  sqlite3_bind_int64(s, 24, j.min_world_size);
  sqlite3_bind_int64(s, 25, static_cast<int64_t>(j.checkpoint_step));
  BindText(s, 26, JoinAddresses(j.checkpoint_shard_servers));
}

JobRecord ReadRecord(sqlite3_stmt* s) {
  JobRecord j;
  j.seq = sqlite3_column_int64(s, 0);
  j.id = Text(s, 1);
  j.name = Text(s, 2);
  j.spec_json = Text(s, 3);
  j.world_size = static_cast<uint32_t>(sqlite3_column_int64(s, 4));
  j.priority = static_cast<int32_t>(sqlite3_column_int64(s, 5));
  j.state = static_cast<JobState>(sqlite3_column_int64(s, 6));
  j.phase = static_cast<JobPhase>(sqlite3_column_int64(s, 7));
  j.epoch = static_cast<uint64_t>(sqlite3_column_int64(s, 8));
  j.epochs = static_cast<uint64_t>(sqlite3_column_int64(s, 9));
  j.step = static_cast<uint64_t>(sqlite3_column_int64(s, 10));
  j.steps_per_epoch = static_cast<uint64_t>(sqlite3_column_int64(s, 11));
  j.last_loss = sqlite3_column_double(s, 12);
  j.knn_top1 = sqlite3_column_double(s, 13);
  j.linear_top1 = sqlite3_column_double(s, 14);
  j.evaluated_epoch = static_cast<uint64_t>(sqlite3_column_int64(s, 15));
  j.last_checkpoint = static_cast<uint64_t>(sqlite3_column_int64(s, 16));
  j.checkpoint_world_size = static_cast<uint32_t>(sqlite3_column_int64(s, 17));
  j.attempts = static_cast<uint32_t>(sqlite3_column_int64(s, 18));
  j.failures = static_cast<uint32_t>(sqlite3_column_int64(s, 19));
  j.failure = Text(s, 20);
  j.cancel_requested = sqlite3_column_int64(s, 21) != 0;
  j.created_unix_ms = sqlite3_column_int64(s, 22);
  j.updated_unix_ms = sqlite3_column_int64(s, 23);
  j.min_world_size = static_cast<uint32_t>(sqlite3_column_int64(s, 24));
  j.checkpoint_step = static_cast<uint64_t>(sqlite3_column_int64(s, 25));
  j.checkpoint_shard_servers = SplitAddresses(Text(s, 26));
  return j;
}

}  // namespace

bool IsFinal(JobState state) {
  return state == JobState::kCompleted || state == JobState::kFailed ||
         state == JobState::kCancelled;
}

uint32_t MinWorldSize(const JobRecord& job) {
  return job.min_world_size == 0 ? job.world_size : std::min(job.min_world_size, job.world_size);
}

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

Status OpenConnection(const std::string& path, int flags, sqlite3** db) {
  if (sqlite3_open_v2(path.c_str(), db, flags | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
    const Status s = Status::Internal(
        path + ": cannot open the job database: " + (*db ? sqlite3_errmsg(*db) : "out of memory"));
    sqlite3_close(*db);
    *db = nullptr;
    return s;
  }
  sqlite3_busy_timeout(*db, 5000);
  return Status::Ok();
}

}  // namespace

Status JobStore::Open(const std::string& path, std::unique_ptr<JobStore>* out) {
  sqlite3* db = nullptr;
  MW_RETURN_IF_ERROR(OpenConnection(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &db));
  std::unique_ptr<JobStore> store(new JobStore(db));
  MW_RETURN_IF_ERROR(store->Exec("PRAGMA journal_mode=WAL"));
  MW_RETURN_IF_ERROR(store->Exec("PRAGMA synchronous=FULL"));
  MW_RETURN_IF_ERROR(store->Exec(
      "CREATE TABLE IF NOT EXISTS jobs ("
      "seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE, name TEXT, "
      "spec_json TEXT NOT NULL, world_size INTEGER, priority INTEGER, state INTEGER, "
      "phase INTEGER, epoch INTEGER, epochs INTEGER, step INTEGER, steps_per_epoch INTEGER, "
      "last_loss REAL, knn_top1 REAL, linear_top1 REAL, evaluated_epoch INTEGER, "
      "last_checkpoint INTEGER, checkpoint_world_size INTEGER, attempts INTEGER, "
      "failures INTEGER, failure TEXT, cancel_requested INTEGER, created_unix_ms INTEGER, "
      "updated_unix_ms INTEGER, min_world_size INTEGER, checkpoint_step INTEGER, "
      "checkpoint_shard_servers TEXT)"));
  // Databases from earlier versions lack the newer columns: they get them, empty (the old
  // meaning: not elastic, checkpoints at epoch ends, on the servers configured now).
  for (const char* column :
       {"min_world_size INTEGER DEFAULT 0", "checkpoint_step INTEGER DEFAULT 0",
        "checkpoint_shard_servers TEXT DEFAULT ''"}) {
    const std::string name = std::string(column).substr(0, std::string(column).find(' '));
    if (!Statement(db, "SELECT " + name + " FROM jobs LIMIT 0").ok()) {
      MW_RETURN_IF_ERROR(store->Exec(std::string("ALTER TABLE jobs ADD COLUMN ") + column));
    }
  }
  MW_RETURN_IF_ERROR(
      store->Exec("CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, priority, seq)"));
  MW_RETURN_IF_ERROR(store->Exec("CREATE INDEX IF NOT EXISTS jobs_by_name ON jobs (name, seq)"));
  MW_RETURN_IF_ERROR(OpenConnection(path, SQLITE_OPEN_READONLY, &store->reader_));
  *out = std::move(store);
  return Status::Ok();
}

JobStore::~JobStore() {
  sqlite3_close(reader_);
  sqlite3_close(db_);
}

Status JobStore::Exec(const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    const Status s = Status::Internal(sql + ": " + (error ? error : "?"));
    sqlite3_free(error);
    return s;
  }
  return Status::Ok();
}

// One caller of Insert waiting for its row to be committed.
struct JobStore::PendingInsert {
  explicit PendingInsert(JobRecord* row) : job(row) {}
  JobRecord* job;
  bool if_name_absent = false;
  bool existed = false;
  Status status = Status::Ok();
  bool done = false;
  std::condition_variable turn;
};

Status JobStore::Insert(JobRecord* job) {
  PendingInsert mine(job);
  return Enqueue(&mine);
}

Status JobStore::InsertIfNameAbsent(JobRecord* job, bool* existed) {
  PendingInsert mine(job);
  mine.if_name_absent = true;
  const Status status = Enqueue(&mine);
  *existed = mine.existed;
  return status;
}

Status JobStore::Enqueue(PendingInsert* insert) {
  PendingInsert& mine = *insert;
  std::unique_lock<std::mutex> lock(inserts_mutex_);
  inserts_.push_back(&mine);
  mine.turn.wait(lock, [&] { return mine.done || inserts_.front() == &mine; });
  if (mine.done) return mine.status;
  // The caller at the front commits every insert queued behind it in one transaction, so
  // concurrent submits share one fsync (LevelDB groups its writers the same way).
  const size_t count = std::min<size_t>(inserts_.size(), 256);
  std::vector<PendingInsert*> batch(inserts_.begin(), inserts_.begin() + count);
  lock.unlock();
  const Status status = InsertBatch(batch);
  lock.lock();
  for (PendingInsert* p : batch) {
    inserts_.pop_front();
    p->status = status;
    p->done = true;
    p->turn.notify_one();
  }
  if (!inserts_.empty()) inserts_.front()->turn.notify_one();
  return status;
}

Status JobStore::InsertBatch(const std::vector<PendingInsert*>& batch) {
  std::lock_guard<std::mutex> lock(mutex_);
  MW_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Status s = Status::Ok();
  for (PendingInsert* p : batch) {
    // Rows inserted earlier in this batch are visible here: one name makes one row.
    if (p->if_name_absent) {
      s = FindByNameLocked(p->job->name, p->job, &p->existed);
      if (!s.ok()) break;
      if (p->existed) continue;
    }
    s = InsertRow(p->job);
    if (!s.ok()) break;
  }
  if (!s.ok()) {
    Exec("ROLLBACK");
    return s;
  }
  return Exec("COMMIT");
}

Status JobStore::InsertRow(JobRecord* job) {
  job->created_unix_ms = job->updated_unix_ms = NowUnixMs();
  // The id derives from seq, known only once the row exists: insert, then name it.
  Statement insert(db_, std::string("INSERT INTO jobs (") + (kColumns + 5) +
                            ") VALUES (NULL,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,"
                            "?17,?18,?19,?20,?21,?22,?23,?24,?25,?26)");
  if (!insert.ok()) return SqliteError(db_, "insert");
  BindRecord(insert.get(), *job);
  if (sqlite3_step(insert.get()) != SQLITE_DONE) return SqliteError(db_, "insert");
  job->seq = sqlite3_last_insert_rowid(db_);
  job->id = "job-" + std::to_string(job->seq);
  Statement name(db_, "UPDATE jobs SET id = ? WHERE seq = ?");
  BindText(name.get(), 1, job->id);
  sqlite3_bind_int64(name.get(), 2, job->seq);
  if (sqlite3_step(name.get()) != SQLITE_DONE) return SqliteError(db_, "insert");
  return Status::Ok();
}

Status JobStore::FindByNameLocked(const std::string& name, JobRecord* out, bool* found) {
  Statement query(
      db_, std::string("SELECT ") + kColumns + " FROM jobs WHERE name = ? ORDER BY seq LIMIT 1");
  if (!query.ok()) return SqliteError(db_, "find by name");
  BindText(query.get(), 1, name);
  const int rc = sqlite3_step(query.get());
  if (rc == SQLITE_ROW) *out = ReadRecord(query.get());
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return SqliteError(db_, "find by name");
  *found = rc == SQLITE_ROW;
  return Status::Ok();
}

Status JobStore::Update(JobRecord* job) {
  std::lock_guard<std::mutex> lock(mutex_);
  job->updated_unix_ms = NowUnixMs();
  // "id = ?1, name = ?2, ...": BindRecord's numbering.
  std::string sql = "UPDATE jobs SET ";
  const std::string columns = kColumns + 5;  // all but seq
  int index = 1;
  for (size_t start = 0; start < columns.size(); ++index) {
    const size_t end = std::min(columns.find(',', start), columns.size());
    const size_t first = columns.find_first_not_of(' ', start);
    sql += (index > 1 ? ", " : "") + columns.substr(first, end - first) + " = ?" +
           std::to_string(index);
    start = end + 1;
  }
  sql += " WHERE seq = ?" + std::to_string(index);
  Statement update(db_, sql);
  if (!update.ok()) return SqliteError(db_, "update");
  BindRecord(update.get(), *job);
  sqlite3_bind_int64(update.get(), index, job->seq);
  if (sqlite3_step(update.get()) != SQLITE_DONE) return SqliteError(db_, "update " + job->id);
  if (sqlite3_changes(db_) != 1) return Status::NotFound("job " + job->id + " does not exist");
  return Status::Ok();
}

Status JobStore::Query(const std::string& where_order_limit, const std::vector<int64_t>& ints,
                       const std::string& text, std::vector<JobRecord>* out) {
  std::lock_guard<std::mutex> lock(read_mutex_);
  Statement query(reader_, std::string("SELECT ") + kColumns + " FROM jobs " + where_order_limit);
  if (!query.ok()) return SqliteError(reader_, "query");
  int i = 1;
  if (!text.empty()) BindText(query.get(), i++, text);
  for (int64_t v : ints) sqlite3_bind_int64(query.get(), i++, v);
  out->clear();
  int rc;
  while ((rc = sqlite3_step(query.get())) == SQLITE_ROW) out->push_back(ReadRecord(query.get()));
  if (rc != SQLITE_DONE) return SqliteError(reader_, "query");
  return Status::Ok();
}

Status JobStore::Get(const std::string& id, JobRecord* out) {
  std::vector<JobRecord> found;
  MW_RETURN_IF_ERROR(Query("WHERE id = ?", {}, id, &found));
  if (found.empty()) return Status::NotFound("job " + id + " does not exist");
  *out = found[0];
  return Status::Ok();
}

Status JobStore::List(int state, int64_t before_seq, int limit, std::vector<JobRecord>* out) {
  return Query("WHERE (?1 = 0 OR state = ?1) AND (?2 = 0 OR seq < ?2) ORDER BY seq DESC LIMIT ?3",
               {state, before_seq, limit}, "", out);
}

Status JobStore::ByState(JobState state, std::vector<JobRecord>* out) {
  return Query("WHERE state = ? ORDER BY priority DESC, seq ASC", {static_cast<int>(state)}, "",
               out);
}

Status JobStore::CountByState(std::map<int, int64_t>* out) {
  std::lock_guard<std::mutex> lock(read_mutex_);
  Statement query(reader_, "SELECT state, COUNT(*) FROM jobs GROUP BY state");
  if (!query.ok()) return SqliteError(reader_, "count");
  out->clear();
  int rc;
  while ((rc = sqlite3_step(query.get())) == SQLITE_ROW) {
    (*out)[static_cast<int>(sqlite3_column_int64(query.get(), 0))] =
        sqlite3_column_int64(query.get(), 1);
  }
  if (rc != SQLITE_DONE) return SqliteError(reader_, "count");
  return Status::Ok();
}

}  // namespace mw
