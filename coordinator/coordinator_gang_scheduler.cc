// Coordinator, gang scheduling: queued jobs onto gangs of free workers (all or nothing, or
// elastic), regangs at checkpoints, and the reconciliation of half-committed checkpoints that
// must precede a job's next start; the control loop that drives them.
#include "coordinator/coordinator.h"

#include <algorithm>

#include "common/log.h"
#include "worker/training/job_spec.h"

namespace mw {

namespace v1 = millionway::v1;

namespace {

// The spec was validated when the job was submitted; read again at each gang start, so the
// record holds no copy of it to migrate.
uint64_t CheckpointEverySteps(const JobRecord& job) {
  JobSpec spec;
  if (!ParseJobSpec(job.spec_json, "spec", &spec).ok()) return 0;
  return static_cast<uint64_t>(spec.checkpoint_every_steps);
}

}  // namespace

bool Coordinator::ShouldRegangLocked(const Run& run) {
  const size_t size = run.gang.size();
  if (size > run.job.world_size || size < MinWorldSize(run.job)) return true;
  if (size == run.job.world_size || FreeWorkersLocked() == 0) return false;
  // Growing takes free workers; a queued job has the first claim on them.
  return queue_.empty();
}

void Coordinator::ScheduleLocked() {
  std::vector<std::string> free;
  bool draining = false;
  std::string busy;  // who is not free, for the log of a job that waits
  for (const auto& [id, w] : workers_) {
    if (IsFree(w)) free.push_back(id);
    draining |= w.draining;
    if (!IsFree(w)) {
      busy += (busy.empty() ? "" : ", ") + w.name +
              (w.draining  ? " (leaving a gang)"
               : w.leaving ? " (SIGTERM)"
                           : " (in a gang)");
    }
  }
  for (auto it = queue_.begin(); it != queue_.end();) {
    JobRecord job = it->second;
    // A job whose last commit is not settled yet cannot start, and holds no one back meanwhile:
    // it asks for no workers until it can use them (a hung shard server would otherwise stall
    // every job behind it).
    if (unreconciled_.count(job.id) || committing_.count(job.id)) {
      ++it;
      continue;
    }
    // Strict order: a job that does not fit holds back the ones behind it, so a large gang
    // is not starved by a stream of small ones. An elastic job takes what is free, but not
    // while workers are still leaving a gang: they are about to be free (a regang's own).
    const size_t size = std::min<size_t>(free.size(), job.world_size);
    if (size < job.world_size && (size < MinWorldSize(job) || draining)) {
      LogWaitingLocked(job, free.size(), busy);
      break;
    }
    Run run;
    run.cadence.train_chunks_per_epoch = options_.train_chunks_per_epoch;
    run.cadence.checkpoint_every_steps = CheckpointEverySteps(job);
    run.gang.assign(free.begin(), free.begin() + static_cast<std::ptrdiff_t>(size));
    free.erase(free.begin(), free.begin() + static_cast<std::ptrdiff_t>(size));
    job.state = JobState::kRunning;
    ++job.attempts;
    run.plan = JobStateMachine::Start(job, static_cast<uint32_t>(size));
    run.saved_step = run.plan.first_step;
    job.phase = PhaseOf(run.plan.kind);
    run.job = job;
    run.started = std::chrono::steady_clock::now();
    run.last_checkpoint_time = std::chrono::system_clock::now();
    run.progress_at_start = Progress(job);
    if (!WriteLocked(&run.job).ok()) return;  // it stays queued; the next pass retries
    it = queue_.erase(it);
    last_waiting_.clear();
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

void Coordinator::LogWaitingLocked(const JobRecord& job, size_t free, const std::string& busy) {
  // Once per change of what it waits for: the scheduler runs every 200 ms.
  const std::string reason =
      job.id + ": " + std::to_string(free) + " free of " + std::to_string(MinWorldSize(job)) +
      ".." + std::to_string(job.world_size) + "; not free: " + (busy.empty() ? "none" : busy);
  if (reason == last_waiting_) return;
  last_waiting_ = reason;
  Log(LogLevel::kInfo, "job waits for workers",
      {{"job_id", job.id},
       {"free", std::to_string(free)},
       {"needs", std::to_string(MinWorldSize(job))},
       {"not_free", busy.empty() ? "none" : busy}});
}

void Coordinator::ReconcileLoop() {
  struct Pending {
    uint64_t last_checkpoint;
    uint32_t next_attempt;  // the next gang's: everything older is fenced off
    std::vector<std::string> layout;
  };
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    std::map<std::string, Pending> pending;
    for (auto it = unreconciled_.begin(); it != unreconciled_.end();) {
      JobRecord job;
      if (committing_.count(*it)) {
        ++it;
      } else if (FindLocked(*it, &job) && !IsFinal(job.state)) {
        pending[*it] = {job.last_checkpoint, job.attempts + 1, job.checkpoint_shard_servers};
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
    for (const auto& [id, job] : pending) {
      int discarded = 0;
      outcomes[id] =
          commit_->Discard(id, job.last_checkpoint, job.next_attempt, job.layout, &discarded);
      if (discarded > 0) {
        Log(LogLevel::kWarning,
            "discarded " + std::to_string(discarded) + " half-committed checkpoint(s) newer than " +
                std::to_string(job.last_checkpoint),
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
        const std::string why =
            "waiting for its checkpoints to be reconciled: " + outcome.ToString();
        Log(LogLevel::kWarning, why, {{"job_id", id}});
        // Shown in Get and Watch, where an operator looks to see why a job does not start,
        // after what stopped it (kept first: that is what went wrong).
        for (auto& [key, queued] : queue_) {
          if (queued.id != id) continue;
          const std::string cause = queued.failure.substr(0, queued.failure.find(" (waiting for"));
          const std::string failure = cause + " (" + why + ")";
          if (queued.failure == failure) continue;
          queued.failure = failure;
          PersistLocked(&queued);
        }
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
    ExpireTasksLocked();
    RetryWritesLocked();
    ScheduleLocked();
    changed_.wait_for(lock, std::chrono::milliseconds(200));
  }
}

}  // namespace mw
