#include "worker/comm/timed_communicator.h"

#include <chrono>

namespace mw {

template <typename Op>
Status TimedCommunicator::Timed(const char* name, Op op) {
  const auto start = std::chrono::steady_clock::now();
  const Status status = op();
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  seconds_[name] += inner_->DeviceSecondsOfLast().value_or(wall);
  return status;
}

Status TimedCommunicator::AllReduce(BufferView buffer, ReduceOp op) {
  return Timed("all_reduce", [&] { return inner_->AllReduce(buffer, op); });
}

Status TimedCommunicator::AllGather(BufferView input, BufferView output) {
  return Timed("all_gather", [&] { return inner_->AllGather(input, output); });
}

Status TimedCommunicator::ReduceScatter(BufferView input, BufferView output) {
  return Timed("reduce_scatter", [&] { return inner_->ReduceScatter(input, output); });
}

Status TimedCommunicator::Broadcast(BufferView buffer, int root) {
  return Timed("broadcast", [&] { return inner_->Broadcast(buffer, root); });
}

Status TimedCommunicator::AllToAll(BufferView input, const std::vector<int64_t>& send_counts,
                                   BufferView output, const std::vector<int64_t>& recv_counts) {
  return Timed("all_to_all",
               [&] { return inner_->AllToAll(input, send_counts, output, recv_counts); });
}

Status TimedCommunicator::Barrier() {
  return Timed("barrier", [&] { return inner_->Barrier(); });
}

std::map<std::string, double> TimedCommunicator::TakeSeconds() {
  std::map<std::string, double> taken;
  taken.swap(seconds_);
  return taken;
}

}  // namespace mw
