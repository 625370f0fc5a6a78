// Coordinator: the service's brain. It keeps jobs in the JobStore, knows the registered
// workers and whether they are alive, forms gangs of W free workers for queued jobs (all or
// nothing, in priority then submission order), and drives each running job through the
// JobStateMachine by handing every gang member the same task and waiting for all W reports.
// Checkpoints are committed on the shard servers (CheckpointCommit), once every rank's pieces
// are in, and only then is progress written to the store; a commit that did not reach the
// store is discarded from every server before its job runs again. A lost worker, a failed task or a
// cancel stops the gang; the job goes back to the queue and restarts from its last committed
// checkpoint, on whatever W workers are free (rows are resharded on load), or ends FAILED after too
// many attempts without progress. An elastic job (min_world_size < world_size) starts or restarts
// short of workers rather than wait, and regangs at a checkpoint when its size should change.
//
// gRPC services call in from many threads; one mutex guards the in-memory state (the runs,
// the workers and the queue of waiting jobs, a copy of the store's QUEUED rows kept in
// scheduling order so the control loop never scans the database), and no network call is
// made while holding it. Submits commit to the store before taking it.
//
// The methods live in one file per concept: coordinator.cc (creation, JobService),
// coordinator_worker_registry.cc, coordinator_gang_scheduler.cc, coordinator_run_tasks.cc.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/rpc/client_channel.h"
#include "common/status.h"
#include "coordinator/checkpoint_commit.h"
#include "coordinator/coordinator_metrics.h"
#include "coordinator/job_state_machine.h"
#include "coordinator/job_store.h"
#include "millionway/v1/worker.pb.h"

namespace mw {

struct CoordinatorOptions {
  std::string database = "millionway.db";
  std::vector<std::string> shard_servers;
  std::chrono::milliseconds heartbeat_interval{500};
  std::chrono::milliseconds heartbeat_timeout{5000};
  // Retention on the shard servers, beyond the checkpoint SQLite records (always kept).
  uint32_t keep_last_checkpoints = 2;
  // A shard server's commit not answered within this is given up, and discarded.
  std::chrono::seconds commit_timeout{30};
  uint32_t max_failures = 3;  // consecutive attempts without a committed checkpoint
  // A task not reported by every rank within this stops the gang (a rank alive, heartbeating,
  // but stuck: a deadlock, a hung disk), as a failure.
  std::chrono::seconds task_timeout{3600};
  int train_chunks_per_epoch = 4;
  ConnectionOptions shard_connection;  // TLS and token towards the shard servers (address unused)
  CoordinatorMetrics* metrics = nullptr;  // required
};

class Coordinator {
 public:
  static Status Create(const CoordinatorOptions& options, std::unique_ptr<Coordinator>* out);
  ~Coordinator();  // stops the control loop

  // JobService.
  // if_absent: when a job named `name` exists (in any state), returns it and sets *created
  // false instead of submitting (JobStore::InsertIfNameAbsent).
  Status Submit(const std::string& name, const std::string& spec_json, uint32_t world_size,
                uint32_t min_world_size, int32_t priority, bool if_absent, JobRecord* out,
                bool* created);
  Status Get(const std::string& id, JobRecord* out);
  Status List(int state, int64_t before_seq, int limit, std::vector<JobRecord>* out);
  Status Cancel(const std::string& id, JobRecord* out);
  // New gang sizes; a running gang is resized at its next checkpoint.
  Status Scale(const std::string& id, uint32_t world_size, uint32_t min_world_size, JobRecord* out);
  // Waits until the job changes after `*version` (or `timeout` passes), then returns it and
  // its new version. Version 0 returns at once.
  Status Watch(const std::string& id, uint64_t* version, std::chrono::milliseconds timeout,
               JobRecord* out);
  // The gang of a running job, worker names by rank (empty otherwise).
  std::vector<std::string> Gang(const std::string& id);
  double EtaSeconds(const JobRecord& job);

  // WorkerService.
  Status Register(const std::string& name, const std::string& rendezvous, std::string* id);
  // leaving: the worker got SIGTERM (see TaskReport.leaving).
  bool Heartbeat(const std::string& worker_id, bool leaving);
  // Binds the worker's one task stream: a second, while the first is open, is ALREADY_EXISTS
  // (and ends without touching the worker), so an id cannot be used to steal its tasks.
  Status OpenTaskStream(const std::string& worker_id);
  // The worker's next task; waits up to `timeout`. NOT_FOUND when the worker is unknown (it
  // must register again), DEADLINE_EXCEEDED when nothing came.
  Status NextTask(const std::string& worker_id, std::chrono::milliseconds timeout,
                  millionway::v1::Task* out);
  Status Report(const millionway::v1::TaskReport& report);
  // Drops a worker whose task stream closed.
  void Disconnected(const std::string& worker_id);

  // What the metrics read at a scrape.
  CoordinatorSnapshot Snapshot();

 private:
  struct Worker {
    std::string name;
    std::string rendezvous;
    std::chrono::steady_clock::time_point last_heartbeat;
    std::string job;         // empty: free
    bool draining = false;   // told to STOP and not yet reported done: not free yet
    bool leaving = false;    // got SIGTERM: joins no new gang
    bool streaming = false;  // its task stream is open (OpenTaskStream)
    std::string stop_task;
    std::vector<millionway::v1::Task> queue;
  };
  struct PendingCheckpoint {
    std::string task_id;  // of its CHECKPOINT task
    TaskPlan plan;
    uint64_t epoch_before = 0;  // the job's epoch before the checkpoint: where a restart goes
    std::chrono::steady_clock::time_point since;
    std::map<uint32_t, millionway::v1::TaskReport> uploads;  // by rank
    bool committing = false;
  };
  struct Deferred {
    bool more = true;  // false: the job has nothing left to do
    TaskPlan next;
  };
  struct Run {
    JobRecord job;
    std::vector<std::string> gang;  // worker ids by rank
    Cadence cadence;                // the options' chunks, the spec's checkpoint interval
    TaskPlan plan;
    // The step of the epoch whose state the job last saved, in this gang's steps: what it
    // loaded at START (converted to its W), then each commit's. A stop saves only past it.
    uint64_t saved_step = 0;
    std::string task_id;
    std::map<uint32_t, millionway::v1::TaskReport> reports;
    std::chrono::steady_clock::time_point started;
    std::chrono::steady_clock::time_point task_sent;  // of the task in hand
    double progress_at_start = 0;
    // A checkpoint whose snapshot every rank took and whose write goes on while the gang
    // trains; committed once every rank's write is reported (TaskReport.uploaded).
    std::optional<PendingCheckpoint> pending;
    std::map<uint32_t, millionway::v1::TaskReport> early_uploads;  // before `pending` exists
    // The outcome of the task last completed, not yet acted on (it waits for `pending`).
    std::optional<Deferred> deferred;
    // The last commit, or the gang's start before one: what "no checkpoint for too long"
    // alerts on.
    std::chrono::system_clock::time_point last_checkpoint_time;
  };
  // Only kFailure counts towards max_failures. kConflict: a shard server holds a checkpoint the
  // job does not know (reconciled before the next start; the gang did nothing wrong), unless
  // it comes kMaxConflicts times in a row. kStore: SQLite did not take the checkpoint's record.
  enum class StopCause { kFailure, kLeaving, kRegang, kCancel, kConflict, kStore };
  static constexpr int kMaxConflicts = 3;
  static constexpr size_t kRecentFinished = 20;

  explicit Coordinator(const CoordinatorOptions& options);
  void ControlLoop();
  // Under mu_.
  void ScheduleLocked();
  // Logs why the queue's head cannot start (free workers, who holds the others), when that
  // changed since the last such line.
  void LogWaitingLocked(const JobRecord& job, size_t free, const std::string& busy);
  void SendLocked(Run& run);
  // After the task in hand completed on every rank (run.deferred set): completes the job,
  // stops or regangs the gang, or sends the next task; waits (returns) while a checkpoint
  // that must come first is not committed.
  Status AdvanceLocked(const std::string& job_id);
  // A rank's report that its checkpoint write ended.
  Status UploadedLocked(std::unique_lock<std::mutex>& lock, Run& run, uint32_t rank,
                        const std::string& worker, const millionway::v1::TaskReport& report);
  // Commits the pending checkpoint once every rank's write is in (outside the lock) and
  // records it; an error when the gang was stopped meanwhile or the commit failed (then the
  // gang is stopped too).
  Status MaybeCommitLocked(std::unique_lock<std::mutex>& lock, const std::string& job_id);
  // kConflict (and the job marked unreconciled) for a checkpoint piece refused with
  // ALREADY_EXISTS; kFailure for anything else.
  StopCause ConflictOrFailure(const Run& run, const millionway::v1::TaskReport& report);
  // Stops the job's gang and drops its run: the job goes back to the queue, or ends (FAILED,
  // CANCELLED). Returns the job as it now stands. runs_ holds only runs with a gang, so
  // nothing can edit a run that is over (a Scale just after a regang would be lost in it).
  JobRecord StopRunLocked(std::string job_id, const std::string& reason, StopCause cause);
  // A job ended (COMPLETED, FAILED or CANCELLED): counted, logged, kept among the recent.
  void FinishedLocked(const JobRecord& job);
  void ReleaseGangLocked(Run& run, bool tell_workers);
  // Writes the job to the store. When that fails, the record is kept in unwritten_ (what
  // Get, List and Watch show) and the control loop writes it again until it lands, so memory
  // and store never disagree for longer than the store is failing. `fault_point` names a
  // point a test arms to make this one write fail.
  Status PersistLocked(JobRecord* job, const char* fault_point = nullptr);
  // The write alone: on failure nothing is kept, for a change the caller undoes instead.
  Status WriteLocked(JobRecord* job, const char* fault_point = nullptr);
  void RetryWritesLocked();
  // A running job's record as a restart must find it: with a checkpoint pending, the epoch
  // that checkpoint began (the live record has moved on).
  Status PersistRunLocked(const Run& run);
  // The job as last written to the store, or as waiting to be (unwritten_).
  Status StoredLocked(const std::string& id, JobRecord* out);
  void BumpLocked(const std::string& job_id);
  void ExpireWorkersLocked();
  // Stops gangs whose task has outlived options_.task_timeout.
  void ExpireTasksLocked();
  // A worker is gone: the gang it was in, if any, is stopped (a failure, for `reason`).
  void StopGangOfLocked(const Worker& worker, const std::string& reason);
  // After a checkpoint: whether the gang should restart at another size (outside the job's
  // range, or short while workers are free that no queued job waits for).
  bool ShouldRegangLocked(const Run& run);
  size_t FreeWorkersLocked() const;
  void EnqueueLocked(const JobRecord& job);
  // Takes job `id` out of the queue into *out; false when it is not queued.
  bool DequeueLocked(const std::string& id, JobRecord* out);
  // The job as the coordinator holds it (running or queued); false: only the store knows.
  bool FindLocked(const std::string& id, JobRecord* out) const;
  static bool IsFree(const Worker& worker);
  // The gang member that is leaving (SIGTERM), or null.
  const Worker* LeavingMemberLocked(const Run& run) const;
  // Discards half-committed checkpoints (see checkpoint_commit.h) of the jobs in
  // unreconciled_, outside the lock, until none is left; its own thread, so a hung shard
  // server delays only those jobs.
  void ReconcileLoop();

  CoordinatorOptions options_;
  CoordinatorMetrics* metrics_;
  std::unique_ptr<JobStore> store_;
  std::unique_ptr<CheckpointCommit> commit_;
  // Jobs whose shard servers may hold a committed checkpoint newer than the job's
  // last_checkpoint: they do not start until ReconcileLoop has discarded it. And jobs with a
  // commit in flight, which do not start either.
  std::set<std::string> unreconciled_;
  std::set<std::string> committing_;
  // Records whose last write to the store failed, by job id; newest wins. Written again at most
  // once a second (a locked database takes its busy timeout to say no, under mu_).
  std::map<std::string, JobRecord> unwritten_;
  std::chrono::steady_clock::time_point next_write_retry_;
  // Conflicts (kConflict stops) in a row, by job; cleared by a committed checkpoint.
  std::map<std::string, int> conflicts_;
  std::string last_waiting_;  // LogWaitingLocked's last line
  std::mutex mu_;
  std::condition_variable changed_;
  std::map<std::string, Worker> workers_;
  std::map<std::string, Run> runs_;
  std::map<std::pair<int64_t, int64_t>, JobRecord> queue_;  // by (-priority, seq)
  std::deque<JobRecord> recent_finished_;                   // the last kRecentFinished
  std::map<std::string, uint64_t> versions_;
  // Watch streams wait on their job's own condition: a change wakes only its watchers.
  struct Watched {
    std::condition_variable changed;
    int watchers = 0;
  };
  std::map<std::string, Watched> watched_;
  uint64_t next_task_ = 1;
  bool stopping_ = false;
  std::thread control_;
  std::thread reconciler_;
};

double Progress(const JobRecord& job);

}  // namespace mw
