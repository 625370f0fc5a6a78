// Agent: a worker process's life under a coordinator. It registers, heartbeats on its own
// thread, holds the task stream open and runs each task it is sent, reporting the outcome:
// START joins the gang (rendezvous at rank 0's address; Gloo, or NCCL for a job whose device is
// a GPU) and builds the job's trainer
// (from the contrastive prior, or from a checkpoint on the shard servers), then TOPK_REFRESH,
// TRAIN, CHECKPOINT and EVALUATE act on it, and STOP drops it. When the coordinator forgets
// the worker (it restarted) or the stream breaks, the agent drops its job and registers again.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/repeated_ptr_field.h>

#include "common/rpc/client_channel.h"
#include "common/status.h"
#include "worker/data/shards/byte_source.h"

namespace millionway::v1 {
class Task;
class TaskReport;
}  // namespace millionway::v1

namespace mw {

class WorkerMetrics;
class ShardClient;

struct AgentOptions {
  std::string coordinator = "127.0.0.1:7070";
  std::string name;  // unique among workers; the pod name in Kubernetes
  // host:port this worker serves the gang's rendezvous store on when it is rank 0; the host
  // is also where its Gloo transport binds.
  std::string rendezvous = "127.0.0.1:29500";
  int threads = 1;  // intra-op threads
  // The GPU a job with `device: cuda` runs on: one worker process per GPU.
  int gpu = 0;
  std::chrono::milliseconds collective_timeout{std::chrono::seconds(60)};
  // TLS and the worker's token towards the coordinator and the shard servers (address unused).
  ConnectionOptions connection;
  // After SIGTERM, how long a worker in a gang waits for its gang's checkpoint and STOP
  // before it leaves anyway (inside Kubernetes' termination grace period).
  std::chrono::milliseconds drain_timeout{std::chrono::seconds(25)};
  // Leaving a gang (its communicator, trainer and data dropped) that takes longer than this
  // exits the process with kTeardownTimeoutExit.
  std::chrono::milliseconds teardown_timeout{std::chrono::seconds(60)};
  // Where packed datasets on object storage are read from, and with which credentials.
  ObjectStoreOptions object_store;
  WorkerMetrics* metrics = nullptr;  // required
};

// The exit code of a worker whose gang teardown did not finish in time.
inline constexpr int kTeardownTimeoutExit = 3;

class Agent {
 public:
  explicit Agent(AgentOptions options);
  ~Agent();
  // Until *stop becomes true (SIGTERM). Then a worker outside any gang leaves at once; one in
  // a gang finishes the step in hand (its whole gang stops training there with it) or the
  // refresh or evaluation in hand, reports that it is leaving, runs what the coordinator
  // still sends (a checkpoint of where the gang stands) and leaves when told to STOP or
  // after drain_timeout.
  Status Run(const std::atomic<bool>* stop);

 private:
  struct Job;
  Status Execute(const millionway::v1::Task& task, millionway::v1::TaskReport* report);
  // Execute, with any exception turned into a failed task.
  Status ExecuteGuarded(const millionway::v1::Task& task, millionway::v1::TaskReport* report);
  // Drops job_ within options_.teardown_timeout, or exits the process.
  void DropJob();
  // A client per shard server address, in order, with this worker's TLS and token.
  Status OpenShards(const google::protobuf::RepeatedPtrField<std::string>& addresses,
                    std::vector<std::unique_ptr<ShardClient>>* out) const;

  AgentOptions options_;
  std::unique_ptr<Job> job_;
  // Delivers a report (a few tries) under the current registration's worker id; false when it
  // could not. Also called from a checkpoint's upload thread.
  std::function<bool(millionway::v1::TaskReport)> send_report_;
  // A checkpoint write's report could not be delivered: the stream is dropped (Run).
  std::atomic<bool> report_lost_{false};
  const std::atomic<bool>* stop_ = nullptr;  // Run's: SIGTERM, which cuts training short
};

}  // namespace mw
