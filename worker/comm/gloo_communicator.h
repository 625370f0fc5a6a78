// GlooCommunicator: collectives between CPU processes over TCP, through LibTorch's c10d
// ProcessGroupGloo with a TCPStore rendezvous hosted by rank 0.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "worker/comm/communicator.h"

namespace mw {

struct GlooOptions {
  int rank = 0;
  int world_size = 1;
  // Rendezvous: rank 0 serves the store on store_port, the others connect to it.
  std::string store_host = "127.0.0.1";
  int store_port = 0;
  // The address this rank's transport binds to and advertises to its peers.
  std::string bind_host = "127.0.0.1";
  // Bounds the rendezvous and every collective: a peer that stops answering turns into
  // DEADLINE_EXCEEDED after this long instead of a hang.
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
};

// Fills rank, world size and rendezvous from MW_RANK, MW_WORLD_SIZE, MW_STORE_HOST and
// MW_STORE_PORT (the names a launcher or a pod spec sets); fields whose variable is unset
// keep their value.
Status GlooOptionsFromEnvironment(GlooOptions* options);

class GlooCommunicator final : public Communicator {
 public:
  static Status Create(const GlooOptions& options, std::unique_ptr<Communicator>* out);
  ~GlooCommunicator() override;

  int rank() const override;
  int world_size() const override;

  Status AllReduce(BufferView buffer, ReduceOp op) override;
  Status AllGather(BufferView input, BufferView output) override;
  Status ReduceScatter(BufferView input, BufferView output) override;
  Status Broadcast(BufferView buffer, int root) override;
  Status AllToAll(BufferView input, const std::vector<int64_t>& send_counts, BufferView output,
                  const std::vector<int64_t>& recv_counts) override;
  Status Barrier() override;

 private:
  struct Impl;
  explicit GlooCommunicator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mw
