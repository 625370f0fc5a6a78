#include "worker/comm/communicator.h"

#include <numeric>
#include <string>

namespace mw {

size_t ElementSize(DataType type) {
  switch (type) {
    case DataType::kFloat32:
    case DataType::kInt32:
      return 4;
    case DataType::kFloat64:
    case DataType::kInt64:
      return 8;
  }
  return 0;
}

namespace {

int64_t Sum(const std::vector<int64_t>& counts) {
  return std::accumulate(counts.begin(), counts.end(), int64_t{0});
}

}  // namespace

Status Communicator::CheckAllGather(BufferView input, BufferView output) const {
  if (input.type != output.type) return Status::InvalidArgument("all-gather: type mismatch");
  if (output.count != input.count * world_size()) {
    return Status::InvalidArgument("all-gather: output count " + std::to_string(output.count) +
                                   " != world_size * input count " +
                                   std::to_string(input.count * world_size()));
  }
  return Status::Ok();
}

Status Communicator::CheckReduceScatter(BufferView input, BufferView output) const {
  if (input.type != output.type) return Status::InvalidArgument("reduce-scatter: type mismatch");
  if (input.count != output.count * world_size()) {
    return Status::InvalidArgument("reduce-scatter: input count " + std::to_string(input.count) +
                                   " != world_size * output count " +
                                   std::to_string(output.count * world_size()));
  }
  return Status::Ok();
}

Status Communicator::CheckAllToAll(BufferView input, const std::vector<int64_t>& send_counts,
                                   BufferView output,
                                   const std::vector<int64_t>& recv_counts) const {
  const auto w = static_cast<size_t>(world_size());
  if (input.type != output.type) return Status::InvalidArgument("all-to-all: type mismatch");
  if (send_counts.size() != w || recv_counts.size() != w) {
    return Status::InvalidArgument("all-to-all: send_counts and recv_counts need world_size = " +
                                   std::to_string(w) + " entries");
  }
  if (Sum(send_counts) != input.count) {
    return Status::InvalidArgument("all-to-all: send_counts sum to " +
                                   std::to_string(Sum(send_counts)) + ", input holds " +
                                   std::to_string(input.count));
  }
  if (Sum(recv_counts) != output.count) {
    return Status::InvalidArgument("all-to-all: recv_counts sum to " +
                                   std::to_string(Sum(recv_counts)) + ", output holds " +
                                   std::to_string(output.count));
  }
  return Status::Ok();
}

void Communicator::CountAllReduce(BufferView buffer) {
  const int w = world_size();
  traffic_.bytes_sent += 2 * (w - 1) * buffer.bytes() / w;
  traffic_.collectives++;
}

void Communicator::CountAllGather(BufferView input) {
  traffic_.bytes_sent += (world_size() - 1) * input.bytes();
  traffic_.collectives++;
}

void Communicator::CountReduceScatter(BufferView input) {
  const int w = world_size();
  traffic_.bytes_sent += (w - 1) * input.bytes() / w;
  traffic_.collectives++;
}

void Communicator::CountBroadcast(BufferView buffer, int root) {
  if (rank() == root) traffic_.bytes_sent += (world_size() - 1) * buffer.bytes();
  traffic_.collectives++;
}

void Communicator::CountAllToAll(BufferView input, const std::vector<int64_t>& send_counts) {
  const int64_t own = send_counts[static_cast<size_t>(rank())];
  traffic_.bytes_sent += (input.count - own) * static_cast<int64_t>(ElementSize(input.type));
  traffic_.collectives++;
}

}  // namespace mw
