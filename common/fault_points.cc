#include "common/fault_points.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/log.h"

namespace mw {

namespace {

struct Armed {
  std::string action;
  long remaining = -1;  // -1: unlimited
};

class FaultTable {
 public:
  FaultTable() {
    const char* spec = std::getenv("MW_FAULT_POINTS");
    if (spec != nullptr) Arm(spec);
  }

  void Arm(const std::string& spec) {
    std::lock_guard<std::mutex> lock(mu_);
    points_.clear();
    std::stringstream list(spec);
    for (std::string item; std::getline(list, item, ',');) {
      const size_t equals = item.find('=');
      if (equals == std::string::npos) continue;
      Armed armed;
      armed.action = item.substr(equals + 1);
      const size_t colon = armed.action.find(':');
      if (colon != std::string::npos) {
        armed.remaining = std::strtol(armed.action.c_str() + colon + 1, nullptr, 10);
        armed.action.resize(colon);
      }
      points_[item.substr(0, equals)] = armed;
    }
  }

  // The action to take at `name` now, or "".
  std::string Take(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = points_.find(name);
    if (it == points_.end() || it->second.remaining == 0) return "";
    if (it->second.remaining > 0) --it->second.remaining;
    return it->second.action;
  }

 private:
  std::mutex mu_;
  std::map<std::string, Armed> points_;
};

FaultTable& Table() {
  static FaultTable table;
  return table;
}

}  // namespace

void ArmFaultPoints(const std::string& spec) { Table().Arm(spec); }

Status FaultPoint(const std::string& name) {
  const std::string action = Table().Take(name);
  if (action.empty()) return Status::Ok();
  Log(LogLevel::kWarning, "fault point " + name + ": " + action, {{"fault_point", name}});
  if (action == "crash") ::kill(::getpid(), SIGKILL);
  if (action == "hang") {
    // To the calling thread, so that it stops before it goes on (a signal to the process may
    // be taken by another thread while this one runs on); resumed, it carries on like a node
    // that thawed.
    ::raise(SIGSTOP);
    return Status::Ok();
  }
  if (action == "throw") throw std::runtime_error("fault point " + name);
  while (action == "block") std::this_thread::sleep_for(std::chrono::hours(1));
  if (action.rfind("sleep", 0) == 0) {
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::strtol(action.c_str() + 5, nullptr, 10)));
    return Status::Ok();
  }
  return Status::Internal("fault point " + name);
}

}  // namespace mw
