// ServerProcess: a real millionway server binary started for a test on a free loopback port
// (it binds port 0 and reports the port through --port-file), with its log kept for the
// failure message and everything removed afterwards.
#pragma once

#include <grpcpp/channel.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/child_process.h"
#include "common/status.h"

namespace mw {

class ServerProcess {
 public:
  ServerProcess() = default;
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  // Kills a server still running; removes its log.
  ~ServerProcess();

  // Starts `program` (a path) with `args` plus --listen 127.0.0.1:0 --port-file F and waits
  // until it serves (up to 30 s).
  // `env` is added to the test's environment (MW_FAULT_POINTS, say).
  Status Start(const std::string& program, const std::vector<std::string>& args,
               const std::map<std::string, std::string>& env = {});
  void Kill();  // SIGKILL, reaped
  // SIGTERM; waits for exit; the exit code.
  int Terminate();

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::shared_ptr<grpc::Channel> Channel() const;
  std::string Log() const;

 private:
  ChildProcess process_;
  int port_ = 0;
  std::string port_file_;
  std::string log_file_;
};

}  // namespace mw
