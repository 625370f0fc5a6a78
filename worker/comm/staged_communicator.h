// StagedCommunicator: host buffers over a device transport. NCCL moves device memory only;
// the parts of a job that work on host tensors (the top-k refresh and its routing, the
// evaluation's all-gathers and all-reduces) reach the gang's NCCL communicator through this,
// which copies each buffer to the device, runs the collective there and copies the result
// back. Those parts run once per epoch, so the copies cost little next to the training step,
// which uses device buffers directly.
#pragma once

#include <c10/core/Device.h>

#include "worker/comm/communicator.h"

namespace mw {

class StagedCommunicator final : public Communicator {
 public:
  // device_comm must outlive this; device is where its buffers must live.
  StagedCommunicator(Communicator* device_comm, c10::Device device)
      : inner_(device_comm), device_(device) {}

  int rank() const override { return inner_->rank(); }
  int world_size() const override { return inner_->world_size(); }
  Status AllReduce(BufferView buffer, ReduceOp op) override;
  Status AllGather(BufferView input, BufferView output) override;
  Status ReduceScatter(BufferView input, BufferView output) override;
  Status Broadcast(BufferView buffer, int root) override;
  Status AllToAll(BufferView input, const std::vector<int64_t>& send_counts, BufferView output,
                  const std::vector<int64_t>& recv_counts) override;
  Status Barrier() override { return inner_->Barrier(); }

 private:
  // Runs op(device input, device output) with input copied in and output copied back.
  template <typename Op>
  Status Staged(BufferView input, BufferView output, Op op);

  Communicator* inner_;
  c10::Device device_;
};

}  // namespace mw
