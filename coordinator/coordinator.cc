#include "coordinator/coordinator.h"

#include <algorithm>

#include "common/fault_points.h"
#include "common/log.h"
#include "common/random_token.h"
#include "millionway/v1/job.pb.h"
#include "worker/training/job_spec.h"

namespace mw {

namespace v1 = millionway::v1;

namespace {

v1::TaskKind ProtoKind(TaskKind kind) {
  switch (kind) {
    case TaskKind::kStart:
      return v1::TASK_START;
    case TaskKind::kTopKRefresh:
      return v1::TASK_TOPK_REFRESH;
    case TaskKind::kTrain:
      return v1::TASK_TRAIN;
    case TaskKind::kCheckpoint:
      return v1::TASK_CHECKPOINT;
    case TaskKind::kEvaluate:
      return v1::TASK_EVALUATE;
  }
  return v1::TASK_KIND_UNSPECIFIED;
}

JobPhase PhaseOf(TaskKind kind) {
  switch (kind) {
    case TaskKind::kStart:
      return JobPhase::kPrior;
    case TaskKind::kTopKRefresh:
      return JobPhase::kTopKRefresh;
    case TaskKind::kTrain:
      return JobPhase::kTrain;
    case TaskKind::kCheckpoint:
      return JobPhase::kCheckpoint;
    case TaskKind::kEvaluate:
      return JobPhase::kEvaluate;
  }
  return JobPhase::kNone;
}

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
  MW_RETURN_IF_ERROR(
      CheckpointCommit::Create(options.shard_servers, options.shard_connection, &c->commit_));
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

Status Coordinator::PersistLocked(JobRecord* job) {
  MW_RETURN_IF_ERROR(store_->Update(job));
  BumpLocked(job->id);
  return Status::Ok();
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
                           JobRecord* out) {
  MW_RETURN_IF_ERROR(ValidateGangSize(world_size, min_world_size));
  if (name.size() > 256) return Status::InvalidArgument("name: at most 256 characters");
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
  MW_RETURN_IF_ERROR(store_->Insert(&job));
  std::lock_guard<std::mutex> lock(mu_);
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
  if (run != runs_.end() && !run->second.gang.empty()) {  // a gangless run is stale
    *out = run->second.job;
    return true;
  }
  for (const auto& [key, job] : queue_) {
    if (job.id != id) continue;
    *out = job;
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
  }
  return store_->Get(id, out);
}

Status Coordinator::List(int state, int64_t before_seq, int limit, std::vector<JobRecord>* out) {
  MW_RETURN_IF_ERROR(store_->List(state, before_seq, limit, out));
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& job : *out) {
    const auto run = runs_.find(job.id);
    if (run != runs_.end()) job = run->second.job;
  }
  return Status::Ok();
}

Status Coordinator::Cancel(const std::string& id, JobRecord* out) {
  std::lock_guard<std::mutex> lock(mu_);
  JobRecord queued;
  if (DequeueLocked(id, &queued)) {
    runs_.erase(id);  // the gangless run of a job stopped and re-queued, if any
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
    StopRunLocked(run->second, "cancelled", StopCause::kCancel);
    JobRecord job = run->second.job;
    runs_.erase(run);
    job.state = JobState::kCancelled;
    MW_RETURN_IF_ERROR(PersistLocked(&job));
    FinishedLocked(job);
    *out = job;
    return Status::Ok();
  }
  JobRecord job;
  MW_RETURN_IF_ERROR(store_->Get(id, &job));
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
  // The queue first: a run stopped to regang leaves a gangless copy in runs_ until the control
  // loop drops it, and the job's live record is then the queued one.
  const bool queued = DequeueLocked(id, &stored);
  if (!queued) {
    const auto run = runs_.find(id);
    if (run != runs_.end() && !run->second.gang.empty()) {
      job = &run->second.job;
    } else {
      MW_RETURN_IF_ERROR(store_->Get(id, &stored));
    }
  }
  if (IsFinal(job->state)) {
    return Status::FailedPrecondition("job " + id + " has ended; nothing to scale");
  }
  job->world_size = world_size;
  job->min_world_size = min_world_size;
  const Status persisted = PersistLocked(job);
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

Status Coordinator::Register(const std::string& name, const std::string& rendezvous,
                             std::string* id) {
  if (name.empty() || name.size() > 256) {
    return Status::InvalidArgument("name: must be 1-256 characters");
  }
  if (rendezvous.find(':') == std::string::npos || rendezvous.size() > 256) {
    return Status::InvalidArgument("rendezvous_address: '" + rendezvous + "' is not host:port");
  }
  std::lock_guard<std::mutex> lock(mu_);
  // A worker that registers again under its name (a restarted pod) replaces the old entry,
  // and whatever gang that entry was in has lost a member.
  for (auto it = workers_.begin(); it != workers_.end(); ++it) {
    if (it->second.name != name) continue;
    if (!it->second.job.empty()) {
      const auto run = runs_.find(it->second.job);
      if (run != runs_.end())
        StopRunLocked(run->second, "worker " + name + " restarted", StopCause::kFailure);
    }
    workers_.erase(it);
    break;
  }
  *id = "w-" + RandomHex(16);
  Worker& w = workers_[*id];
  w.name = name;
  w.rendezvous = rendezvous;
  w.last_heartbeat = std::chrono::steady_clock::now();
  changed_.notify_all();
  return Status::Ok();
}

bool Coordinator::Heartbeat(const std::string& worker_id, bool leaving) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = workers_.find(worker_id);
  if (it == workers_.end()) return false;
  it->second.last_heartbeat = std::chrono::steady_clock::now();
  it->second.leaving |= leaving;
  return true;
}

Status Coordinator::NextTask(const std::string& worker_id, std::chrono::milliseconds timeout,
                             v1::Task* out) {
  std::unique_lock<std::mutex> lock(mu_);
  const auto ready = [&] {
    const auto it = workers_.find(worker_id);
    return stopping_ || it == workers_.end() || !it->second.queue.empty();
  };
  changed_.wait_for(lock, timeout, ready);
  const auto it = workers_.find(worker_id);
  if (it == workers_.end()) return Status::NotFound("worker " + worker_id + " is not registered");
  if (stopping_) return Status::Unavailable("the coordinator is shutting down");
  if (it->second.queue.empty()) return Status::DeadlineExceeded("no task");
  *out = it->second.queue.front();
  it->second.queue.erase(it->second.queue.begin());
  return Status::Ok();
}

void Coordinator::Disconnected(const std::string& worker_id) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = workers_.find(worker_id);
  if (it == workers_.end()) return;
  if (!it->second.leaving) {  // one that said it was leaving is gone, not lost
    metrics_->WorkerLost();
    Log(LogLevel::kWarning, "worker " + it->second.name + " disconnected",
        {{"worker", it->second.name}});
  }
  if (!it->second.job.empty()) {
    const auto run = runs_.find(it->second.job);
    if (run != runs_.end()) {
      StopRunLocked(run->second, "worker " + it->second.name + " disconnected",
                    StopCause::kFailure);
    }
  }
  workers_.erase(it);
}

Status Coordinator::Report(const v1::TaskReport& report) {
  std::unique_lock<std::mutex> lock(mu_);
  const auto worker = workers_.find(report.worker_id());
  if (worker == workers_.end()) {
    return Status::NotFound("worker " + report.worker_id() + " is not registered");
  }
  worker->second.leaving |= report.leaving();
  if (worker->second.draining && report.task_id() == worker->second.stop_task) {
    // It has left its old gang (a collective blocked on a dead peer can take a while): only
    // now may it join a new one, or the new gang's rendezvous would wait for it in vain.
    worker->second.draining = false;
    changed_.notify_all();
    return Status::Ok();
  }
  const auto found = runs_.find(worker->second.job);
  if (found == runs_.end() || found->second.task_id != report.task_id()) {
    return Status::Ok();  // a report for a task whose gang is gone: nothing to do
  }
  Run& run = found->second;
  if (!report.ok()) {
    StopRunLocked(run, "worker " + worker->second.name + ": " + report.error(),
                  StopCause::kFailure);
    return Status::Ok();
  }
  const auto rank = static_cast<uint32_t>(
      std::find(run.gang.begin(), run.gang.end(), report.worker_id()) - run.gang.begin());
  run.reports[rank] = report;
  if (run.reports.size() < run.gang.size() || run.committing) return Status::Ok();

  TaskOutcome outcome;
  const v1::TaskReport& lead = run.reports.at(0);
  outcome.mean_loss = lead.mean_loss();
  outcome.steps_per_epoch = lead.steps_per_epoch();
  outcome.knn_top1 = lead.knn_top1();
  outcome.linear_top1 = lead.linear_top1();
  const std::string job_id = run.job.id;
  const std::string task_id = run.task_id;
  if (run.plan.kind == TaskKind::kCheckpoint) {
    // Commit outside the lock; the run may be stopped meanwhile, which the task id tells.
    run.committing = true;
    committing_.insert(job_id);
    const auto reports = run.reports;
    const uint64_t checkpoint = run.plan.checkpoint;
    lock.unlock();
    const auto start = std::chrono::steady_clock::now();
    const Status committed =
        commit_->Commit(job_id, checkpoint, reports, options_.keep_last_checkpoints);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    lock.lock();
    committing_.erase(job_id);
    const auto again = runs_.find(job_id);
    if (again == runs_.end() || again->second.task_id != task_id || !committed.ok()) {
      // Some servers may hold the checkpoint the job will not record: discard it first.
      unreconciled_.insert(job_id);
      changed_.notify_all();
    }
    if (again == runs_.end() || again->second.task_id != task_id) return Status::Ok();
    again->second.committing = false;
    if (!committed.ok()) {
      StopRunLocked(again->second, "checkpoint commit failed: " + committed.message(),
                    StopCause::kFailure);
      return Status::Ok();
    }
    metrics_->CheckpointCommitted(seconds);
    again->second.last_checkpoint_time = std::chrono::system_clock::now();
    again->second.job.failures = 0;  // progress made
    again->second.job.checkpoint_world_size = static_cast<uint32_t>(again->second.gang.size());
  }
  Run& current = runs_.at(job_id);
  TaskPlan next;
  const bool more = JobStateMachine::Next(&current.job, current.plan, outcome, &next,
                                          options_.train_chunks_per_epoch);
  if (!more) {
    current.job.state = JobState::kCompleted;
    current.job.phase = JobPhase::kNone;
    current.job.failure.clear();
    JobRecord finished = current.job;
    ReleaseGangLocked(current, true);
    runs_.erase(job_id);
    MW_RETURN_IF_ERROR(PersistLocked(&finished));
    FinishedLocked(finished);
    return Status::Ok();
  }
  if (const Worker* leaving = LeavingMemberLocked(current)) {
    // Save where the gang stands (unless the epoch's own checkpoint is next), then stop:
    // the job resumes from there without the leaving worker, and it was no failure.
    TaskPlan save;
    if (next.kind != TaskKind::kCheckpoint) {
      if (!JobStateMachine::CheckpointNow(current.job, &save)) {
        StopRunLocked(current, "worker " + leaving->name + " left (SIGTERM)", StopCause::kLeaving);
        return Status::Ok();
      }
      next = save;
    }
  } else if (current.plan.kind == TaskKind::kCheckpoint && next.kind != TaskKind::kEvaluate &&
             ShouldRegangLocked(current)) {
    const std::string reason =
        "regang: " + std::to_string(current.gang.size()) + " workers, the job asks for " +
        std::to_string(MinWorldSize(current.job)) + ".." + std::to_string(current.job.world_size);
    StopRunLocked(current, reason, StopCause::kRegang);  // persists progress; re-queues
    return Status::Ok();
  }
  current.plan = next;
  current.job.phase = PhaseOf(next.kind);
  MW_RETURN_IF_ERROR(PersistLocked(&current.job));
  SendLocked(current);
  return Status::Ok();
}

bool Coordinator::IsFree(const Worker& worker) {
  return worker.job.empty() && !worker.draining && !worker.leaving;
}

void Coordinator::FinishedLocked(const JobRecord& job) {
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
    if (!run.gang.empty())
      s.jobs.push_back(gauges(run.job, run.gang.size(), run.last_checkpoint_time));
  }
  for (const auto& job : recent_finished_) {
    s.jobs.push_back(gauges(
        job, 0,
        std::chrono::system_clock::time_point(std::chrono::milliseconds(job.updated_unix_ms))));
  }
  return s;
}

size_t Coordinator::FreeWorkersLocked() const {
  size_t free = 0;
  for (const auto& [id, w] : workers_) free += IsFree(w) ? 1 : 0;
  return free;
}

const Coordinator::Worker* Coordinator::LeavingMemberLocked(const Run& run) const {
  for (const auto& id : run.gang) {
    const auto it = workers_.find(id);
    if (it != workers_.end() && it->second.leaving) return &it->second;
  }
  return nullptr;
}

bool Coordinator::ShouldRegangLocked(const Run& run) {
  const size_t size = run.gang.size();
  if (size > run.job.world_size || size < MinWorldSize(run.job)) return true;
  if (size == run.job.world_size || FreeWorkersLocked() == 0) return false;
  // Growing takes free workers; a queued job has the first claim on them.
  return queue_.empty();
}

void Coordinator::SendLocked(Run& run) {
  run.task_id =
      run.job.id + "/" + std::to_string(run.job.attempts) + "/" + std::to_string(next_task_++);
  run.reports.clear();
  const std::string rendezvous = workers_.at(run.gang[0]).rendezvous;
  for (size_t rank = 0; rank < run.gang.size(); ++rank) {
    v1::Task task;
    task.set_task_id(run.task_id);
    task.set_kind(ProtoKind(run.plan.kind));
    task.set_job_id(run.job.id);
    task.set_attempt(run.job.attempts);
    task.set_rank(static_cast<uint32_t>(rank));
    task.set_world_size(static_cast<uint32_t>(run.gang.size()));
    task.set_rendezvous(rendezvous);
    task.set_spec_json(run.job.spec_json);
    task.set_epoch(run.plan.epoch);
    task.set_first_step(run.plan.first_step);
    task.set_last_step(run.plan.last_step);
    task.set_checkpoint(run.plan.checkpoint);
    task.set_checkpoint_world_size(run.job.checkpoint_world_size);
    for (const auto& address : options_.shard_servers) task.add_shard_servers(address);
    workers_.at(run.gang[rank]).queue.push_back(task);
  }
  changed_.notify_all();
}

void Coordinator::ReleaseGangLocked(Run& run, bool tell_workers) {
  for (const auto& id : run.gang) {
    const auto it = workers_.find(id);
    if (it == workers_.end()) continue;
    it->second.job.clear();
    it->second.queue.clear();
    if (tell_workers) {
      v1::Task stop;
      stop.set_kind(v1::TASK_STOP);
      stop.set_job_id(run.job.id);
      stop.set_task_id(run.job.id + "/stop/" + std::to_string(next_task_++));
      it->second.queue.push_back(stop);
      it->second.draining = true;
      it->second.stop_task = stop.task_id();
    }
  }
  run.gang.clear();
  changed_.notify_all();
}

void Coordinator::StopRunLocked(Run& run, const std::string& reason, StopCause cause) {
  static const char* const kCauses[] = {"failure", "leaving", "regang", "cancel"};
  metrics_->GangStopped(kCauses[static_cast<int>(cause)]);
  Log(cause == StopCause::kFailure ? LogLevel::kWarning : LogLevel::kInfo,
      "gang stopped: " + reason,
      {{"job_id", run.job.id}, {"cause", kCauses[static_cast<int>(cause)]}});
  ReleaseGangLocked(run, true);
  run.task_id.clear();
  JobRecord& job = run.job;
  job.failure = reason;
  job.phase = JobPhase::kNone;
  if (cause == StopCause::kFailure) ++job.failures;
  if (job.cancel_requested) {
    job.state = JobState::kCancelled;
  } else if (job.failures >= options_.max_failures) {
    job.state = JobState::kFailed;
    job.failure = "failed " + std::to_string(job.failures) + " times in a row; last: " + reason;
  } else {
    job.state = JobState::kQueued;
  }
  PersistLocked(&job);
  if (job.state == JobState::kQueued) EnqueueLocked(job);
  if (job.state == JobState::kFailed) FinishedLocked(job);
  // The caller erases finished runs it holds; queued ones are dropped by the control loop.
}

void Coordinator::ExpireWorkersLocked() {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (now - it->second.last_heartbeat <= options_.heartbeat_timeout) {
      ++it;
      continue;
    }
    metrics_->WorkerLost();
    Log(LogLevel::kWarning, "worker " + it->second.name + " stopped heartbeating",
        {{"worker", it->second.name}});
    if (!it->second.job.empty()) {
      const auto run = runs_.find(it->second.job);
      if (run != runs_.end()) {
        StopRunLocked(run->second, "worker " + it->second.name + " stopped heartbeating",
                      StopCause::kFailure);
      }
    }
    it = workers_.erase(it);
  }
}

void Coordinator::ScheduleLocked() {
  // Runs whose gang was stopped are over (a re-queued job is in the queue already).
  for (auto it = runs_.begin(); it != runs_.end();) {
    it = it->second.gang.empty() ? runs_.erase(it) : std::next(it);
  }
  std::vector<std::string> free;
  bool draining = false;
  for (const auto& [id, w] : workers_) {
    if (IsFree(w)) free.push_back(id);
    draining |= w.draining;
  }
  for (auto it = queue_.begin(); it != queue_.end(); it = queue_.erase(it)) {
    JobRecord job = it->second;
    // Strict order: a job that does not fit holds back the ones behind it, so a large gang
    // is not starved by a stream of small ones. An elastic job takes what is free, but not
    // while workers are still leaving a gang: they are about to be free (a regang's own).
    const size_t size = std::min<size_t>(free.size(), job.world_size);
    if (size < job.world_size && (size < MinWorldSize(job) || draining)) break;
    if (unreconciled_.count(job.id) || committing_.count(job.id)) break;
    Run run;
    run.gang.assign(free.begin(), free.begin() + static_cast<std::ptrdiff_t>(size));
    free.erase(free.begin(), free.begin() + static_cast<std::ptrdiff_t>(size));
    job.state = JobState::kRunning;
    ++job.attempts;
    run.plan = JobStateMachine::Start(job);
    job.phase = PhaseOf(run.plan.kind);
    run.job = job;
    run.started = std::chrono::steady_clock::now();
    run.last_checkpoint_time = std::chrono::system_clock::now();
    run.progress_at_start = Progress(job);
    if (!PersistLocked(&run.job).ok()) return;  // it stays queued; the next pass retries
    for (const auto& id : run.gang) workers_.at(id).job = job.id;
    Run& placed = runs_[job.id] = std::move(run);
    std::string gang;
    for (const auto& id : placed.gang) gang += (gang.empty() ? "" : ",") + workers_.at(id).name;
    Log(LogLevel::kInfo, "job started on " + std::to_string(placed.gang.size()) + " workers",
        {{"job_id", job.id},
         {"attempt", std::to_string(job.attempts)},
         {"checkpoint", std::to_string(job.last_checkpoint)},
         {"gang", gang}});
    SendLocked(placed);
  }
}

void Coordinator::ReconcileLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    std::map<std::string, uint64_t> pending;  // job -> its last committed checkpoint
    for (auto it = unreconciled_.begin(); it != unreconciled_.end();) {
      JobRecord job;
      if (committing_.count(*it)) {
        ++it;
      } else if (FindLocked(*it, &job)) {
        pending[*it] = job.last_checkpoint;
        ++it;
      } else {
        it = unreconciled_.erase(it);  // finished: it will not run again
      }
    }
    if (pending.empty()) {
      changed_.wait_for(lock, std::chrono::milliseconds(200));
      continue;
    }
    lock.unlock();
    std::map<std::string, Status> outcomes;
    for (const auto& [id, last] : pending) {
      int discarded = 0;
      outcomes[id] = commit_->Discard(id, last, &discarded);
      if (discarded > 0) {
        Log(LogLevel::kWarning,
            "discarded " + std::to_string(discarded) + " half-committed checkpoint(s) newer than " +
                std::to_string(last),
            {{"job_id", id}});
      }
    }
    lock.lock();
    bool failed = false;
    for (const auto& [id, outcome] : outcomes) {
      if (outcome.ok()) {
        unreconciled_.erase(id);
      } else {
        failed = true;
        Log(LogLevel::kWarning, "cannot reconcile checkpoints yet: " + outcome.ToString(),
            {{"job_id", id}});
      }
    }
    changed_.notify_all();
    if (failed) changed_.wait_for(lock, std::chrono::seconds(1));
  }
}

void Coordinator::ControlLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    ExpireWorkersLocked();
    ScheduleLocked();
    changed_.wait_for(lock, std::chrono::milliseconds(200));
  }
}

}  // namespace mw
