// Coordinator: creation and recovery after a restart, and what JobService asks of it (submit,
// get, list, cancel, scale, watch, metrics snapshots). The rest of the class is split by
// concept: coordinator_worker_registry.cc, coordinator_gang_scheduler.cc,
// coordinator_run_tasks.cc; the shard commit protocol is checkpoint_commit.h.
#include "coordinator/coordinator.h"

#include <algorithm>

#include "common/fault_points.h"
#include "common/log.h"
#include "millionway/v1/job.pb.h"
#include "worker/training/job_spec.h"

namespace mw {

namespace v1 = millionway::v1;

namespace {

// "QUEUED", "RUNNING", ...: the API's names (the enums share their values).
const char* StateName(JobState state) {
  return v1::JobState_Name(static_cast<v1::JobState>(state)).c_str();
}

}  // namespace

double Progress(const JobRecord& job) {
  if (job.state == JobState::kCompleted) return 1.0;
  if (job.epochs == 0) return 0.0;
  const double within =
      job.steps_per_epoch > 0 ? static_cast<double>(job.step) / job.steps_per_epoch : 0.0;
  return std::min(1.0, (static_cast<double>(job.epoch) + within) / static_cast<double>(job.epochs));
}

Coordinator::Coordinator(const CoordinatorOptions& options)
    : options_(options), metrics_(options.metrics) {}

Status Coordinator::Create(const CoordinatorOptions& options, std::unique_ptr<Coordinator>* out) {
  if (options.shard_servers.empty()) {
    return Status::InvalidArgument("shard_servers: at least one shard server is needed");
  }
  if (options.metrics == nullptr) return Status::InvalidArgument("metrics: required");
  std::unique_ptr<Coordinator> c(new Coordinator(options));
  MW_RETURN_IF_ERROR(JobStore::Open(options.database, &c->store_));
  MW_RETURN_IF_ERROR(CheckpointCommit::Create(options.shard_servers, options.shard_connection,
                                              options.commit_timeout, &c->commit_));
  // A job the previous coordinator was running has lost its gang with it: back to the queue,
  // to restart from its last committed checkpoint. Not a failure of the job.
  std::vector<JobRecord> running;
  MW_RETURN_IF_ERROR(c->store_->ByState(JobState::kRunning, &running));
  for (auto& job : running) {
    job.state = job.cancel_requested ? JobState::kCancelled : JobState::kQueued;
    job.failure = "coordinator restarted while the job ran";
    MW_RETURN_IF_ERROR(c->store_->Update(&job));
  }
  std::vector<JobRecord> queued;
  MW_RETURN_IF_ERROR(c->store_->ByState(JobState::kQueued, &queued));
  for (const auto& job : queued) {
    c->EnqueueLocked(job);
    // It ran before: the previous coordinator may have stopped inside a commit.
    if (job.attempts > 0) c->unreconciled_.insert(job.id);
  }
  c->control_ = std::thread([raw = c.get()] { raw->ControlLoop(); });
  c->reconciler_ = std::thread([raw = c.get()] { raw->ReconcileLoop(); });
  *out = std::move(c);
  return Status::Ok();
}

Coordinator::~Coordinator() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (auto& [id, watched] : watched_) watched.changed.notify_all();
  }
  changed_.notify_all();
  if (control_.joinable()) control_.join();
  if (reconciler_.joinable()) reconciler_.join();
}

Status Coordinator::WriteLocked(JobRecord* job, const char* fault_point) {
  MW_RETURN_IF_ERROR(fault_point != nullptr ? FaultPoint(fault_point) : Status::Ok());
  MW_RETURN_IF_ERROR(store_->Update(job));
  unwritten_.erase(job->id);  // this record is newer than any that failed before it
  BumpLocked(job->id);
  return Status::Ok();
}

Status Coordinator::PersistLocked(JobRecord* job, const char* fault_point) {
  const Status written = WriteLocked(job, fault_point);
  if (written.ok()) return written;
  Log(LogLevel::kError, "cannot write the job to the store; retrying: " + written.ToString(),
      {{"job_id", job->id}});
  unwritten_[job->id] = *job;
  BumpLocked(job->id);
  return written;
}

Status Coordinator::PersistRunLocked(const Run& run) {
  JobRecord durable = run.job;
  // The epoch a checkpoint not yet committed began: what a coordinator restarted from the
  // store must resume (it has only the checkpoint before).
  if (run.pending) durable.epoch = run.pending->epoch_before;
  return PersistLocked(&durable);
}

Status Coordinator::StoredLocked(const std::string& id, JobRecord* out) {
  const auto unwritten = unwritten_.find(id);
  if (unwritten == unwritten_.end()) return store_->Get(id, out);
  *out = unwritten->second;
  return Status::Ok();
}

void Coordinator::RetryWritesLocked() {
  if (unwritten_.empty() || std::chrono::steady_clock::now() < next_write_retry_) return;
  next_write_retry_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  for (auto it = unwritten_.begin(); it != unwritten_.end();) {
    JobRecord job = it->second;
    if (!store_->Update(&job).ok()) {
      ++it;
      continue;
    }
    Log(LogLevel::kInfo, "job written to the store after earlier failures", {{"job_id", job.id}});
    it = unwritten_.erase(it);
  }
}

void Coordinator::BumpLocked(const std::string& job_id) {
  ++versions_[job_id];
  const auto watched = watched_.find(job_id);
  if (watched != watched_.end()) watched->second.changed.notify_all();
}

namespace {

Status ValidateGangSize(uint32_t world_size, uint32_t min_world_size) {
  if (world_size < 1) return Status::InvalidArgument("world_size: must be >= 1");
  if (world_size > 4096) return Status::InvalidArgument("world_size: must be <= 4096");
  if (min_world_size > world_size) {
    return Status::InvalidArgument("min_world_size: must be <= world_size (" +
                                   std::to_string(world_size) + ")");
  }
  return Status::Ok();
}

}  // namespace

Status Coordinator::Submit(const std::string& name, const std::string& spec_json,
                           uint32_t world_size, uint32_t min_world_size, int32_t priority,
                           bool if_absent, JobRecord* out, bool* created) {
  MW_RETURN_IF_ERROR(ValidateGangSize(world_size, min_world_size));
  if (name.size() > 256) return Status::InvalidArgument("name: at most 256 characters");
  if (if_absent && name.empty()) {
    return Status::InvalidArgument("name: required with if_absent (jobs are found by name)");
  }
  JobSpec spec;
  MW_RETURN_IF_ERROR(ParseJobSpec(spec_json, "spec", &spec));
  JobRecord job;
  job.name = name;
  job.spec_json = spec_json;
  job.world_size = world_size;
  job.min_world_size = min_world_size;
  job.priority = priority;
  job.epochs = static_cast<uint64_t>(spec.trainer.epochs);
  // The durable commit (an fsync) happens outside the coordinator's lock, so other calls do
  // not queue behind it; the row is read back under the lock in case a Cancel came first.
  bool existed = false;
  MW_RETURN_IF_ERROR(if_absent ? store_->InsertIfNameAbsent(&job, &existed) : store_->Insert(&job));
  *created = !existed;
  std::lock_guard<std::mutex> lock(mu_);
  if (existed) {
    if (!FindLocked(job.id, out)) *out = job;  // the live record when it runs or waits
    return Status::Ok();
  }
  JobRecord now;
  Status read = FaultPoint("coordinator.submit.read_back");
  if (read.ok()) read = store_->Get(job.id, &now);
  if (!read.ok()) {
    // The row is durable and QUEUED: queue it as inserted rather than leave a job that runs
    // only after the next restart.
    Log(LogLevel::kWarning,
        "submit: read-back failed, queuing the job as inserted: " + read.ToString(),
        {{"job_id", job.id}});
    now = job;
  }
  if (now.state == JobState::kQueued) EnqueueLocked(now);
  BumpLocked(job.id);
  *out = job;
  return Status::Ok();
}

void Coordinator::EnqueueLocked(const JobRecord& job) {
  queue_[{-static_cast<int64_t>(job.priority), job.seq}] = job;
  changed_.notify_all();
}

bool Coordinator::DequeueLocked(const std::string& id, JobRecord* out) {
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if (it->second.id != id) continue;
    *out = std::move(it->second);
    queue_.erase(it);
    return true;
  }
  return false;
}

bool Coordinator::FindLocked(const std::string& id, JobRecord* out) const {
  const auto run = runs_.find(id);
  if (run != runs_.end()) {
    *out = run->second.job;
    return true;
  }
  for (const auto& [key, job] : queue_) {
    if (job.id != id) continue;
    *out = job;
    return true;
  }
  const auto unwritten = unwritten_.find(id);
  if (unwritten != unwritten_.end()) {
    *out = unwritten->second;
    return true;
  }
  return false;
}

Status Coordinator::Get(const std::string& id, JobRecord* out) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto run = runs_.find(id);
    if (run != runs_.end()) {
      *out = run->second.job;
      return Status::Ok();
    }
    const auto unwritten = unwritten_.find(id);
    if (unwritten != unwritten_.end()) {
      *out = unwritten->second;
      return Status::Ok();
    }
  }
  return store_->Get(id, out);
}

Status Coordinator::List(int state, int64_t before_seq, int limit, std::vector<JobRecord>* out) {
  MW_RETURN_IF_ERROR(store_->List(state, before_seq, limit, out));
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& job : *out) {
    const auto run = runs_.find(job.id);
    const auto unwritten = unwritten_.find(job.id);
    if (run != runs_.end()) {
      job = run->second.job;
    } else if (unwritten != unwritten_.end()) {
      job = unwritten->second;
    }
  }
  return Status::Ok();
}

Status Coordinator::Cancel(const std::string& id, JobRecord* out) {
  std::lock_guard<std::mutex> lock(mu_);
  JobRecord queued;
  if (DequeueLocked(id, &queued)) {
    queued.cancel_requested = true;
    queued.state = JobState::kCancelled;
    MW_RETURN_IF_ERROR(PersistLocked(&queued));
    FinishedLocked(queued);
    *out = queued;
    return Status::Ok();
  }
  const auto run = runs_.find(id);
  if (run != runs_.end()) {
    run->second.job.cancel_requested = true;
    *out = StopRunLocked(id, "cancelled", StopCause::kCancel);
    return Status::Ok();
  }
  JobRecord job;
  MW_RETURN_IF_ERROR(StoredLocked(id, &job));
  if (!IsFinal(job.state)) {
    job.cancel_requested = true;
    job.state = JobState::kCancelled;
    MW_RETURN_IF_ERROR(PersistLocked(&job));
    FinishedLocked(job);
  }
  *out = job;
  return Status::Ok();
}

Status Coordinator::Scale(const std::string& id, uint32_t world_size, uint32_t min_world_size,
                          JobRecord* out) {
  MW_RETURN_IF_ERROR(ValidateGangSize(world_size, min_world_size));
  std::lock_guard<std::mutex> lock(mu_);
  JobRecord stored;
  JobRecord* job = &stored;
  const bool queued = DequeueLocked(id, &stored);
  if (!queued) {
    const auto run = runs_.find(id);
    if (run != runs_.end()) {
      job = &run->second.job;
    } else {
      MW_RETURN_IF_ERROR(StoredLocked(id, &stored));
    }
  }
  if (IsFinal(job->state)) {
    return Status::FailedPrecondition("job " + id + " has ended; nothing to scale");
  }
  job->world_size = world_size;
  job->min_world_size = min_world_size;
  const auto run = runs_.find(id);
  const Status persisted = run != runs_.end() ? PersistRunLocked(run->second) : PersistLocked(job);
  if (queued) EnqueueLocked(stored);
  MW_RETURN_IF_ERROR(persisted);
  *out = *job;
  return Status::Ok();
}

Status Coordinator::Watch(const std::string& id, uint64_t* version,
                          std::chrono::milliseconds timeout, JobRecord* out) {
  std::unique_lock<std::mutex> lock(mu_);
  if (versions_.count(id) == 0 && !FindLocked(id, out)) {
    MW_RETURN_IF_ERROR(store_->Get(id, out));  // an unknown id gets no version entry
  }
  if (*version > 0) {
    Watched& watched = watched_[id];
    ++watched.watchers;
    watched.changed.wait_for(lock, timeout, [&] { return stopping_ || versions_[id] != *version; });
    if (--watched.watchers == 0) watched_.erase(id);
  }
  *version = std::max<uint64_t>(1, versions_[id]);
  versions_[id] = *version;
  if (FindLocked(id, out)) return Status::Ok();
  lock.unlock();
  return store_->Get(id, out);
}

std::vector<std::string> Coordinator::Gang(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> names;
  const auto run = runs_.find(id);
  if (run == runs_.end()) return names;
  for (const auto& worker : run->second.gang) {
    const auto w = workers_.find(worker);
    names.push_back(w == workers_.end() ? worker : w->second.name);
  }
  return names;
}

double Coordinator::EtaSeconds(const JobRecord& job) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto run = runs_.find(job.id);
  if (run == runs_.end()) return 0;
  const double done = Progress(job) - run->second.progress_at_start;
  if (done <= 0) return 0;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - run->second.started).count();
  return elapsed / done * (1.0 - Progress(job));
}

void Coordinator::FinishedLocked(const JobRecord& job) {
  conflicts_.erase(job.id);
  const char* state = StateName(job.state);
  metrics_->JobFinished(state);
  Log(job.state == JobState::kFailed ? LogLevel::kError : LogLevel::kInfo,
      std::string("job ") + state + (job.failure.empty() ? "" : ": " + job.failure),
      {{"job_id", job.id}, {"state", state}});
  recent_finished_.push_back(job);
  if (recent_finished_.size() > kRecentFinished) recent_finished_.pop_front();
}

CoordinatorSnapshot Coordinator::Snapshot() {
  CoordinatorSnapshot s;
  std::map<int, int64_t> counts;
  store_->CountByState(&counts);
  for (JobState state : {JobState::kQueued, JobState::kRunning, JobState::kCompleted,
                         JobState::kFailed, JobState::kCancelled}) {
    s.jobs_by_state[StateName(state)] = static_cast<double>(counts[static_cast<int>(state)]);
  }
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  for (const auto& [id, w] : workers_) {
    s.workers_registered += 1;
    s.workers_alive += now - w.last_heartbeat <= 2 * options_.heartbeat_interval ? 1 : 0;
    s.workers_busy += w.job.empty() ? 0 : 1;
  }
  const auto gauges = [](const JobRecord& job, size_t gang,
                         std::chrono::system_clock::time_point checkpointed) {
    JobGauges g;
    g.id = job.id;
    g.state = StateName(job.state);
    g.epoch = static_cast<double>(job.epoch);
    g.epochs = static_cast<double>(job.epochs);
    g.progress = Progress(job);
    g.loss = job.last_loss;
    g.knn_top1 = job.knn_top1;
    g.linear_top1 = job.linear_top1;
    g.world_size = static_cast<double>(gang);
    g.last_checkpoint = static_cast<double>(job.last_checkpoint);
    g.last_checkpoint_unix_seconds =
        std::chrono::duration<double>(checkpointed.time_since_epoch()).count();
    return g;
  };
  for (const auto& [id, run] : runs_) {
    s.jobs.push_back(gauges(run.job, run.gang.size(), run.last_checkpoint_time));
  }
  for (const auto& job : recent_finished_) {
    s.jobs.push_back(gauges(
        job, 0,
        std::chrono::system_clock::time_point(std::chrono::milliseconds(job.updated_unix_ms))));
  }
  return s;
}

}  // namespace mw
