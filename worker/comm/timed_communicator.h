// TimedCommunicator: any Communicator, with the wall time each kind of collective takes
// accumulated until read, so the step-time breakdown (compute, each collective, data wait)
// can be reported without timing code in the trainer or the classifier. Where the transport
// times its collectives on the device (NCCL), that time is used instead of the host's wall
// time, which would include the compute the collective waited for.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "worker/comm/communicator.h"

namespace mw {

class TimedCommunicator final : public Communicator {
 public:
  explicit TimedCommunicator(std::unique_ptr<Communicator> inner) : inner_(std::move(inner)) {}

  int rank() const override { return inner_->rank(); }
  int world_size() const override { return inner_->world_size(); }
  Status AllReduce(BufferView buffer, ReduceOp op) override;
  Status AllGather(BufferView input, BufferView output) override;
  Status ReduceScatter(BufferView input, BufferView output) override;
  Status Broadcast(BufferView buffer, int root) override;
  Status AllToAll(BufferView input, const std::vector<int64_t>& send_counts, BufferView output,
                  const std::vector<int64_t>& recv_counts) override;
  Status Barrier() override;
  std::optional<double> DeviceSecondsOfLast() const override {
    return inner_->DeviceSecondsOfLast();
  }

  // Seconds spent in each collective ("all_reduce", "all_gather", "reduce_scatter",
  // "broadcast", "all_to_all", "barrier") since the last call; resets them.
  std::map<std::string, double> TakeSeconds();

 private:
  template <typename Op>
  Status Timed(const char* name, Op op);

  std::unique_ptr<Communicator> inner_;
  std::map<std::string, double> seconds_;
};

}  // namespace mw
