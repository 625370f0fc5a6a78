// GlooCommunicator: collectives between CPU processes over TCP, through LibTorch's c10d
// ProcessGroupGloo on the gang's rendezvous store.
#pragma once

#include <memory>

#include "worker/comm/communicator.h"
#include "worker/comm/rendezvous.h"

namespace mw {

class GlooCommunicator final : public Communicator {
 public:
  // Connects the rendezvous, then the transport, binding options.bind_host.
  static Status Create(const GangOptions& options, std::unique_ptr<Communicator>* out);
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
