// Communicator: the collectives the hybrid-parallel step needs, over one transport.
//
// Buffers are raw views (pointer, element count, type) rather than tensors, so one
// interface serves host memory (Gloo) and device memory (NCCL) and this header needs no
// LibTorch. Every call is collective and blocking: all ranks call it in the same order with
// matching sizes. A failure (a peer that died, a timeout) comes back as a Status, never as
// an abort, so the worker can report it and the coordinator can restart the gang.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/status.h"

namespace mw {

enum class DataType { kFloat32, kFloat64, kInt32, kInt64 };

size_t ElementSize(DataType type);

struct BufferView {
  void* data = nullptr;
  int64_t count = 0;  // elements, not bytes
  DataType type = DataType::kFloat32;

  int64_t bytes() const { return count * static_cast<int64_t>(ElementSize(type)); }
};

enum class ReduceOp { kSum, kMax };

// Bytes this rank put on the wire, by the standard algorithm of each collective (ring
// all-reduce moves 2(W-1)/W of the buffer, all-gather (W-1) blocks, ...). Benchmarks read it
// to compare traffic between classifier modes.
struct TrafficCounter {
  int64_t bytes_sent = 0;
  int64_t collectives = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int world_size() const = 0;

  // In place; every rank ends with the element-wise reduction.
  virtual Status AllReduce(BufferView buffer, ReduceOp op) = 0;

  // output.count == world_size * input.count; rank r's input lands at block r.
  virtual Status AllGather(BufferView input, BufferView output) = 0;

  // input.count == world_size * output.count; rank r receives the sum of block r of every
  // rank's input.
  virtual Status ReduceScatter(BufferView input, BufferView output) = 0;

  virtual Status Broadcast(BufferView buffer, int root) = 0;

  // send_counts[r] elements of input (consecutive blocks) go to rank r; recv_counts[r]
  // elements from rank r land consecutively in output. Counts may be uneven or zero.
  virtual Status AllToAll(BufferView input, const std::vector<int64_t>& send_counts,
                          BufferView output, const std::vector<int64_t>& recv_counts) = 0;

  virtual Status Barrier() = 0;

  // The device time of the last collective where the transport measures it (NCCL, with CUDA
  // events): a GPU collective's wall time from the host would include the compute queued
  // before it. Empty where wall time is the collective's time (Gloo).
  virtual std::optional<double> DeviceSecondsOfLast() const { return std::nullopt; }

  const TrafficCounter& traffic() const { return traffic_; }
  void ResetTraffic() { traffic_ = {}; }

 protected:
  // Checks sizes shared by every backend before any bytes move, so a caller's mistake is an
  // INVALID_ARGUMENT naming the sizes rather than a hang or a transport error.
  Status CheckAllGather(BufferView input, BufferView output) const;
  Status CheckReduceScatter(BufferView input, BufferView output) const;
  Status CheckAllToAll(BufferView input, const std::vector<int64_t>& send_counts, BufferView output,
                       const std::vector<int64_t>& recv_counts) const;

  void CountAllReduce(BufferView buffer);
  void CountAllGather(BufferView input);
  void CountReduceScatter(BufferView input);
  void CountBroadcast(BufferView buffer, int root);
  void CountAllToAll(BufferView input, const std::vector<int64_t>& send_counts);

  TrafficCounter traffic_;
};

}  // namespace mw
