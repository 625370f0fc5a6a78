// Coordinator, the worker registry: registration (a worker's id is 128 random bits), heartbeats
// and liveness, the task queue each worker's stream drains, and what a lost worker does to its
// gang.
#include "coordinator/coordinator.h"

#include <algorithm>

#include "common/log.h"
#include "common/random_token.h"

namespace mw {

namespace v1 = millionway::v1;

Status Coordinator::Register(const std::string& name, const std::string& rendezvous,
                             std::string* id) {
  if (name.empty() || name.size() > 256) {
    return Status::InvalidArgument("name: must be 1-256 characters");
  }
  if (rendezvous.find(':') == std::string::npos || rendezvous.size() > 256) {
    return Status::InvalidArgument("rendezvous_address: '" + rendezvous.substr(0, 256) +
                                   "' is not host:port (at most 256 characters)");
  }
  std::lock_guard<std::mutex> lock(mu_);
  // A worker that registers again under its name (a restarted pod) replaces the old entry,
  // and whatever gang that entry was in has lost a member.
  for (auto it = workers_.begin(); it != workers_.end(); ++it) {
    if (it->second.name != name) continue;
    StopGangOfLocked(it->second, "worker " + name + " restarted");
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

Status Coordinator::OpenTaskStream(const std::string& worker_id) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = workers_.find(worker_id);
  if (it == workers_.end()) return Status::NotFound("worker " + worker_id + " is not registered");
  if (it->second.streaming) {
    return Status::AlreadyExists("worker " + worker_id + " has a task stream open already");
  }
  it->second.streaming = true;
  return Status::Ok();
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
  StopGangOfLocked(it->second, "worker " + it->second.name + " disconnected");
  workers_.erase(it);
}

void Coordinator::StopGangOfLocked(const Worker& worker, const std::string& reason) {
  if (!worker.job.empty()) StopRunLocked(worker.job, reason, StopCause::kFailure);
}

bool Coordinator::IsFree(const Worker& worker) {
  return worker.job.empty() && !worker.draining && !worker.leaving;
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
    StopGangOfLocked(it->second, "worker " + it->second.name + " stopped heartbeating");
    it = workers_.erase(it);
  }
}

}  // namespace mw
