// LocalCluster: `mwctl local`, the whole service on one machine: S shard servers, a
// coordinator and W workers as child processes on loopback, each on a free port, with its
// data and logs under one directory. Every call between them is authenticated: the cluster
// makes a token per role under <dir>/auth (the user's is the given one, if any). With
// restart_exited, a process that exits is started again under its name, port and data, as
// a pod's restartPolicy: Always would (with the kubelet's back-off when it keeps exiting
// soon after its start). Stopping sends SIGTERM to the workers, then the coordinator, then
// the shard servers, waiting for each to exit.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/child_process.h"
#include "common/rpc/client_channel.h"
#include "common/status.h"

namespace mw {

struct LocalClusterOptions {
  std::string dir;      // data and logs
  std::string bin_dir;  // where the service binaries are; empty: beside the running program
  int shard_servers = 2;
  int workers = 2;
  int threads_per_worker = 1;
  int heartbeat_timeout_ms = 5000;
  int max_failures = 3;           // the coordinator's --max-failures
  int task_timeout_s = 3600;      // and --task-timeout-s
  int commit_timeout_s = 30;      // and --commit-timeout-s
  int collective_timeout_s = 60;  // the workers' --collective-timeout-s and --teardown-timeout-s
  std::string token_file;         // given: the user token; else one is made
  // Given: mutual TLS between every pair of processes, each presenting this certificate
  // (it must allow serverAuth and clientAuth) and trusting only peers signed by tls_ca.
  std::string tls_ca, tls_cert, tls_key;
  // For fault-injection tests: MW_FAULT_POINTS (common/fault_points.h) of a process by name
  // ("coordinator", "shard-server-1", "worker-0"); a restart of that process disarms them.
  std::map<std::string, std::string> fault_points;
  bool restart_exited = false;  // what `mwctl local` runs with; tests restart by hand
};

class LocalCluster {
 public:
  static Status Start(const LocalClusterOptions& options, std::unique_ptr<LocalCluster>* out);
  ~LocalCluster();  // Stop()

  std::string coordinator_address() const { return coordinator_address_; }
  // How a user reaches the coordinator: its address, the user token, the cluster's TLS.
  ConnectionOptions UserConnection() const;
  // <dir>/auth: user.token, worker.token, coordinator.token.
  std::string auth_dir() const { return options_.dir + "/auth"; }
  const std::vector<std::string>& shard_addresses() const { return shard_addresses_; }
  // Idempotent and safe from a signal-handling thread.
  void Stop();

  // For failure tests: the processes, a coordinator restarted on its old port and database
  // after it was killed, and a worker restarted under its old name.
  ChildProcess& worker(int i) { return workers_[static_cast<size_t>(i)]; }
  ChildProcess& coordinator() { return coordinator_; }
  ChildProcess& shard_server(int i) { return shards_[static_cast<size_t>(i)]; }
  Status RestartCoordinator();
  Status RestartWorker(int i);
  // The pid of process `name` ("worker-1", "shard-server-0", "coordinator"), or -1: safe to
  // call while restart_exited restarts processes (the accessors above are not).
  pid_t ProcessId(const std::string& name);
  // On its old port and data; armed with `fault_points` (MW_FAULT_POINTS), else none.
  Status RestartShardServer(int i, const std::string& fault_points = "");

 private:
  // Starts `program` with --listen 127.0.0.1:0 --port-file and waits for the port.
  Status StartServer(const std::string& program, std::vector<std::string> args,
                     const std::string& name, const std::string& listen, ChildProcess* out,
                     std::string* address);
  std::vector<std::string> CoordinatorArgs() const;
  // A server's --tls-* flags: its certificate, and the CA its clients must be signed by.
  std::vector<std::string> ServerTlsArgs() const;
  // --metrics-port-file for process `name`: <dir>/<name>.metrics.port (check_live.py reads
  // these to point Prometheus at every process).
  std::vector<std::string> MetricsArgs(const std::string& name) const;
  Status StartWorker(int i);
  Status StartShardServer(int i, const std::string& listen);
  std::map<std::string, std::string> Env(const std::string& name) const;

  Status MakeTokens();
  void StopOnce();
  // Every process under its name, with how to restart it, in the order they start: shard
  // servers, the coordinator, workers.
  struct Named {
    std::string name;
    ChildProcess* process;
    std::function<Status()> restart;
  };
  std::vector<Named> Processes();
  // The restart_exited loop: every 200 ms, each process that has exited is started again
  // once its back-off has passed.
  void Supervise();
  // When a process may next be restarted: 1 s after it exited, doubling (to 60 s) while it
  // keeps exiting within a minute of its start.
  struct Backoff {
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point exited{};
    // Exits in a row, all but the first within a minute of their start.
    int quick_exits = 0;
    std::chrono::seconds delay{1};
  };
  std::string Binary(const std::string& name) const;

  LocalClusterOptions options_;
  std::vector<ChildProcess> shards_;
  ChildProcess coordinator_;
  std::vector<ChildProcess> workers_;
  std::string coordinator_address_;
  std::string user_token_;
  std::vector<std::string> shard_addresses_;
  std::once_flag stopped_;
  std::mutex supervisor_mutex_;
  std::condition_variable supervisor_wake_;
  bool stopping_ = false;                   // under supervisor_mutex_
  std::map<std::string, Backoff> backoff_;  // by process name; the supervisor's own
  std::thread supervisor_;
};

}  // namespace mw
