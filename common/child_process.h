// ChildProcess: one program started as a child process, for `mwctl local`, for tests that
// kill a server at a random instant, and for the rank launcher. The child is asked by the
// kernel to receive SIGKILL if its parent dies first (PR_SET_PDEATHSIG), so a crashed
// launcher leaves no orphans on the machine.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace mw {

class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // Kills (SIGKILL) and reaps a child still running.
  ~ChildProcess();

  // Starts `program args...` with the parent's environment plus `env`. stdout and stderr go
  // to `log_path` when given (appended), else are inherited.
  static Status Start(const std::string& program, const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env, const std::string& log_path,
                      ChildProcess* out);

  pid_t pid() const { return pid_; }
  bool running();
  void Signal(int signal);
  // Waits up to `timeout` for the child to exit; true when it did. exit_code() is its status
  // (128 + signal when killed).
  bool Wait(std::chrono::milliseconds timeout);
  int exit_code() const { return exit_code_; }

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

}  // namespace mw
