// NcclCommunicator: collectives between GPUs through NCCL. Buffers are device pointers.
//
// The communicator is created non-blocking and every collective is waited on with a
// deadline while NCCL's asynchronous error is polled, so a dead peer or a stuck network
// aborts the communicator (ncclCommAbort, at once) and returns a Status instead of hanging
// the process forever. Teardown always aborts: ncclCommDestroy waits for the peers, and a
// peer that died never comes. Each collective first waits for the work queued on the
// producer stream (an event recorded there), whatever stream that is.
// Compiled only where CUDA and NCCL are found (MW_WITH_NCCL); run only with a GPU.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "worker/comm/communicator.h"

namespace mw {

struct NcclOptions {
  int rank = 0;
  int world_size = 1;
  int device = 0;
  // The bytes of an ncclUniqueId, made by NcclCommunicator::NewUniqueId on rank 0 and
  // handed to every rank through the gang's rendezvous store (gang_communicator.h).
  std::string unique_id;
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
  // The stream whose work a collective's buffers come from (a cudaStream_t; null: the legacy
  // default stream). Asked at every collective, since the caller may switch streams.
  std::function<void*()> producer_stream;
};

class NcclCommunicator final : public Communicator {
 public:
  // Number of CUDA devices visible; 0 where there is no driver or no GPU.
  static int DeviceCount();
  static Status NewUniqueId(std::string* out);
  static Status Create(const NcclOptions& options, std::unique_ptr<Communicator>* out);
  ~NcclCommunicator() override;

  int rank() const override;
  int world_size() const override;

  Status AllReduce(BufferView buffer, ReduceOp op) override;
  Status AllGather(BufferView input, BufferView output) override;
  Status ReduceScatter(BufferView input, BufferView output) override;
  Status Broadcast(BufferView buffer, int root) override;
  Status AllToAll(BufferView input, const std::vector<int64_t>& send_counts, BufferView output,
                  const std::vector<int64_t>& recv_counts) override;
  Status Barrier() override;
  std::optional<double> DeviceSecondsOfLast() const override;

 private:
  struct Impl;
  explicit NcclCommunicator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mw
