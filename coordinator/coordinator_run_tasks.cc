// Coordinator, a run's tasks: fan-out of each planned task to every rank of the gang, fan-in
// of their reports (committing a checkpoint once all ranks wrote their pieces), and stopping a
// gang.
#include "coordinator/coordinator.h"

#include <grpcpp/support/status_code_enum.h>

#include <algorithm>

#include "common/log.h"
#include "millionway/v1/job.pb.h"

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

}  // namespace

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
  if (found == runs_.end()) return Status::Ok();  // its gang is gone: nothing to do
  Run& run = found->second;
  const auto rank = static_cast<uint32_t>(
      std::find(run.gang.begin(), run.gang.end(), report.worker_id()) - run.gang.begin());
  if (report.uploaded()) return UploadedLocked(lock, run, rank, worker->second.name, report);
  if (run.task_id != report.task_id()) return Status::Ok();  // a task of a gang gone
  // A report sent again (its answer was lost) once this rank's is in, or once the task's
  // outcome waits on a commit, changes nothing.
  if (run.deferred || run.reports.count(rank)) return Status::Ok();
  if (!report.ok()) {
    StopRunLocked(run.job.id, "worker " + worker->second.name + ": " + report.error(),
                  ConflictOrFailure(run, report));
    return Status::Ok();
  }
  run.reports[rank] = report;
  if (run.reports.size() < run.gang.size()) return Status::Ok();

  TaskOutcome outcome;
  const v1::TaskReport& lead = run.reports.at(0);
  outcome.mean_loss = lead.mean_loss();
  outcome.stopped_at_step = lead.stopped_at_step();
  outcome.steps_per_epoch = lead.steps_per_epoch();
  outcome.knn_top1 = lead.knn_top1();
  outcome.linear_top1 = lead.linear_top1();
  const std::string job_id = run.job.id;
  const JobRecord before = run.job;
  TaskPlan next;
  const bool more = JobStateMachine::Next(&run.job, run.plan, outcome, &next, run.cadence);
  if (run.plan.kind == TaskKind::kCheckpoint) {
    // Every rank has its snapshot and is writing it; the gang goes on. The checkpoint is the
    // job's only once committed (UploadedLocked): until then the job keeps its last one.
    PendingCheckpoint pending;
    pending.task_id = run.task_id;
    pending.plan = run.plan;
    pending.epoch_before = before.epoch;
    pending.since = std::chrono::steady_clock::now();
    pending.uploads = std::move(run.early_uploads);
    run.early_uploads.clear();
    run.pending = std::move(pending);
    run.job.last_checkpoint = before.last_checkpoint;
    run.job.checkpoint_step = before.checkpoint_step;
  }
  run.deferred = Deferred{more, next};
  if (run.pending) {
    const Status committed = MaybeCommitLocked(lock, job_id);
    if (runs_.count(job_id) == 0 || !committed.ok()) return Status::Ok();
  }
  return AdvanceLocked(job_id);
}

Coordinator::StopCause Coordinator::ConflictOrFailure(const Run& run,
                                                      const v1::TaskReport& report) {
  // A piece refused because its checkpoint number is committed already: a shard server holds
  // a commit the job never recorded. Discarded before the next start; not the gang's failure.
  const bool conflict = (report.uploaded() || run.plan.kind == TaskKind::kCheckpoint) &&
                        report.error_code() == grpc::StatusCode::ALREADY_EXISTS;
  if (conflict) unreconciled_.insert(run.job.id);
  return conflict ? StopCause::kConflict : StopCause::kFailure;
}

Status Coordinator::UploadedLocked(std::unique_lock<std::mutex>& lock, Run& run, uint32_t rank,
                                   const std::string& worker, const v1::TaskReport& report) {
  const bool pending = run.pending && run.pending->task_id == report.task_id();
  if (!pending && run.task_id != report.task_id()) return Status::Ok();  // of a gang gone
  if (!report.ok()) {
    StopRunLocked(run.job.id, "worker " + worker + ": checkpoint write: " + report.error(),
                  ConflictOrFailure(run, report));
    return Status::Ok();
  }
  if (!pending) {
    // The write ended before every rank's snapshot was reported: kept for the commit.
    run.early_uploads[rank] = report;
    return Status::Ok();
  }
  run.pending->uploads[rank] = report;
  const std::string job_id = run.job.id;
  const Status committed = MaybeCommitLocked(lock, job_id);
  if (!committed.ok() || runs_.count(job_id) == 0) return Status::Ok();
  const auto again = runs_.find(job_id);
  if (again->second.pending || !again->second.deferred) return Status::Ok();
  return AdvanceLocked(job_id);
}

Status Coordinator::MaybeCommitLocked(std::unique_lock<std::mutex>& lock,
                                      const std::string& job_id) {
  Run& run = runs_.at(job_id);
  PendingCheckpoint& pending = *run.pending;
  if (pending.uploads.size() < run.gang.size() || pending.committing) return Status::Ok();
  // Commit outside the lock; the run may be stopped meanwhile, which the task id tells.
  pending.committing = true;
  committing_.insert(job_id);
  const auto uploads = pending.uploads;
  const std::string task_id = pending.task_id;
  const TaskPlan plan = pending.plan;
  const uint32_t attempt = run.job.attempts;
  const uint64_t recorded = run.job.last_checkpoint;
  lock.unlock();
  const auto start = std::chrono::steady_clock::now();
  const Status committed = commit_->Commit(job_id, plan.checkpoint, attempt, recorded, uploads,
                                           options_.keep_last_checkpoints);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  lock.lock();
  committing_.erase(job_id);
  const auto again = runs_.find(job_id);
  const bool same =
      again != runs_.end() && again->second.pending && again->second.pending->task_id == task_id;
  if (!same || !committed.ok()) {
    // Some servers may hold the checkpoint the job will not record: discard it first.
    unreconciled_.insert(job_id);
    changed_.notify_all();
  }
  if (!same) return Status::Cancelled("the gang stopped during the commit");
  Run& current = again->second;
  current.pending->committing = false;
  if (!committed.ok()) {
    StopRunLocked(job_id, "checkpoint commit failed: " + committed.message(),
                  committed.code() == Status::Code::kAlreadyExists ? StopCause::kConflict
                                                                   : StopCause::kFailure);
    return committed;
  }
  // The commit point: once this write returns, the checkpoint is the job's. Until then it is
  // not (a failed write is undone and the checkpoint discarded), so retention, which keeps
  // what the store records, never depends on a record that is not on disk.
  const JobRecord before = current.job;
  current.job.last_checkpoint = plan.checkpoint;
  current.job.checkpoint_step = plan.first_step;
  current.job.failures = 0;  // progress made
  current.job.checkpoint_world_size = static_cast<uint32_t>(current.gang.size());
  current.job.checkpoint_shard_servers = commit_->addresses();
  const Status recorded_now = WriteLocked(&current.job, "coordinator.checkpoint.record");
  if (!recorded_now.ok()) {
    current.job = before;
    unreconciled_.insert(job_id);
    StopRunLocked(job_id,
                  "cannot record checkpoint " + std::to_string(plan.checkpoint) + ": " +
                      recorded_now.message(),
                  StopCause::kStore);
    return recorded_now;
  }
  current.pending.reset();
  current.saved_step = plan.first_step;
  current.last_checkpoint_time = std::chrono::system_clock::now();
  conflicts_.erase(job_id);
  metrics_->CheckpointCommitted(seconds);
  return Status::Ok();
}

Status Coordinator::AdvanceLocked(const std::string& job_id) {
  Run& current = runs_.at(job_id);
  if (!current.deferred) return Status::Ok();
  const bool more = current.deferred->more;
  TaskPlan next = current.deferred->next;
  const Worker* leaving = LeavingMemberLocked(current);
  const bool checkpointed = current.plan.kind == TaskKind::kCheckpoint;
  const bool regang = checkpointed && more && next.kind != TaskKind::kEvaluate && !leaving &&
                      ShouldRegangLocked(current);
  // What must see the last checkpoint committed first: the job's end, a gang that stops (a
  // member leaving, a regang), and the next checkpoint (one write in flight per rank).
  if (current.pending && (!more || leaving || regang || next.kind == TaskKind::kCheckpoint)) {
    return Status::Ok();  // UploadedLocked comes back here once the commit is in
  }
  current.deferred.reset();
  if (!more) {
    current.job.state = JobState::kCompleted;
    current.job.phase = JobPhase::kNone;
    current.job.failure.clear();
    JobRecord finished = current.job;
    ReleaseGangLocked(current, true);
    runs_.erase(job_id);
    // Kept in memory (unwritten_) until the store has it, whatever this write does.
    PersistLocked(&finished, "coordinator.complete.write");
    FinishedLocked(finished);
    return Status::Ok();
  }
  if (leaving) {
    // Save where the gang stands (unless the epoch's own checkpoint is next), then stop:
    // the job resumes from there without the leaving worker, and it was no failure.
    TaskPlan save;
    if (next.kind != TaskKind::kCheckpoint) {
      if (!JobStateMachine::CheckpointNow(current.job, current.saved_step, &save)) {
        StopRunLocked(job_id, "worker " + leaving->name + " left (SIGTERM)", StopCause::kLeaving);
        return Status::Ok();
      }
      next = save;
    }
  } else if (regang) {
    const std::string reason =
        "regang: " + std::to_string(current.gang.size()) + " workers, the job asks for " +
        std::to_string(MinWorldSize(current.job)) + ".." + std::to_string(current.job.world_size);
    StopRunLocked(job_id, reason, StopCause::kRegang);  // persists progress; re-queues
    return Status::Ok();
  }
  // Planned when the task before ended, perhaps while the checkpoint before was still pending
  // (last_checkpoint not yet moved): numbered from what is committed now.
  if (next.kind == TaskKind::kCheckpoint) next.checkpoint = current.job.last_checkpoint + 1;
  current.plan = next;
  current.job.phase = PhaseOf(next.kind);
  // Progress within the epoch: a failed write is retried (unwritten_); the gang goes on.
  PersistRunLocked(current);
  SendLocked(current);
  return Status::Ok();
}

void Coordinator::SendLocked(Run& run) {
  run.task_sent = std::chrono::steady_clock::now();
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
    for (const auto& address : commit_->addresses()) task.add_shard_servers(address);
    if (run.plan.kind == TaskKind::kStart) {
      for (const auto& address : run.job.checkpoint_shard_servers) {
        task.add_checkpoint_shard_servers(address);
      }
    }
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

JobRecord Coordinator::StopRunLocked(std::string job_id, const std::string& reason,
                                     StopCause cause) {
  static const char* const kCauses[] = {"failure", "leaving",  "regang",
                                        "cancel",  "conflict", "store"};
  const auto run = runs_.find(job_id);
  if (run == runs_.end()) return JobRecord();
  // A conflict that comes back after every reconciliation is not the servers' leftovers.
  if (cause == StopCause::kConflict && ++conflicts_[job_id] >= kMaxConflicts) {
    cause = StopCause::kFailure;
  }
  metrics_->GangStopped(kCauses[static_cast<int>(cause)]);
  Log(cause == StopCause::kFailure ? LogLevel::kWarning : LogLevel::kInfo,
      "gang stopped: " + reason, {{"job_id", job_id}, {"cause", kCauses[static_cast<int>(cause)]}});
  ReleaseGangLocked(run->second, true);
  JobRecord job = std::move(run->second.job);
  // A checkpoint not committed is not the job's: it restarts from the last one, in its epoch.
  if (run->second.pending) job.epoch = run->second.pending->epoch_before;
  runs_.erase(run);
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
  PersistLocked(&job, "coordinator.stop.write");  // on failure, kept and retried (unwritten_)
  if (job.state == JobState::kQueued) {
    EnqueueLocked(job);
  } else {
    FinishedLocked(job);
  }
  return job;
}

void Coordinator::ExpireTasksLocked() {
  const auto now = std::chrono::steady_clock::now();
  std::map<std::string, std::string> expired;  // job -> why; stopped after the walk
  const auto silent = [](const Run& run, const std::map<uint32_t, v1::TaskReport>& reports) {
    std::string ranks;
    for (size_t rank = 0; rank < run.gang.size(); ++rank) {
      if (reports.count(static_cast<uint32_t>(rank)) == 0) {
        ranks += (ranks.empty() ? "" : ",") + std::to_string(rank);
      }
    }
    return ranks;
  };
  const std::string deadline = std::to_string(options_.task_timeout.count()) + " s";
  for (const auto& [id, run] : runs_) {
    if (run.pending && run.pending->committing) continue;
    if (!run.task_id.empty() && run.reports.size() < run.gang.size() &&
        now - run.task_sent > options_.task_timeout) {
      expired[id] = "task " + run.task_id + " passed its deadline of " + deadline +
                    " without a report from rank(s) " + silent(run, run.reports);
    } else if (run.pending && now - run.pending->since > options_.task_timeout) {
      expired[id] = "the write of checkpoint " + std::to_string(run.pending->plan.checkpoint) +
                    " passed its deadline of " + deadline + " without a report from rank(s) " +
                    silent(run, run.pending->uploads);
    }
  }
  for (const auto& [id, reason] : expired) StopRunLocked(id, reason, StopCause::kFailure);
}

}  // namespace mw
