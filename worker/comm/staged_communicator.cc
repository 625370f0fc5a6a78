#include "worker/comm/staged_communicator.h"

#include <ATen/ATen.h>

namespace mw {

namespace {

at::Tensor HostBytes(BufferView view) {
  return at::from_blob(view.data, {view.bytes()}, at::TensorOptions().dtype(at::kByte));
}

}  // namespace

template <typename Op>
Status StagedCommunicator::Staged(BufferView input, BufferView output, Op op) {
  const auto on_device = at::TensorOptions().dtype(at::kByte).device(device_);
  at::Tensor in = at::empty({input.bytes()}, on_device);
  in.copy_(HostBytes(input));
  const bool in_place = input.data == output.data;
  at::Tensor out = in_place ? in : at::empty({output.bytes()}, on_device);
  MW_RETURN_IF_ERROR(op(BufferView{in.data_ptr(), input.count, input.type},
                        BufferView{out.data_ptr(), output.count, output.type}));
  HostBytes(output).copy_(out);
  return Status::Ok();
}

Status StagedCommunicator::AllReduce(BufferView buffer, ReduceOp op) {
  CountAllReduce(buffer);
  return Staged(buffer, buffer,
                [&](BufferView in, BufferView) { return inner_->AllReduce(in, op); });
}

Status StagedCommunicator::AllGather(BufferView input, BufferView output) {
  MW_RETURN_IF_ERROR(CheckAllGather(input, output));
  CountAllGather(input);
  return Staged(input, output,
                [&](BufferView in, BufferView out) { return inner_->AllGather(in, out); });
}

Status StagedCommunicator::ReduceScatter(BufferView input, BufferView output) {
  MW_RETURN_IF_ERROR(CheckReduceScatter(input, output));
  CountReduceScatter(input);
  return Staged(input, output,
                [&](BufferView in, BufferView out) { return inner_->ReduceScatter(in, out); });
}

Status StagedCommunicator::Broadcast(BufferView buffer, int root) {
  CountBroadcast(buffer, root);
  return Staged(buffer, buffer,
                [&](BufferView in, BufferView) { return inner_->Broadcast(in, root); });
}

Status StagedCommunicator::AllToAll(BufferView input, const std::vector<int64_t>& send_counts,
                                    BufferView output, const std::vector<int64_t>& recv_counts) {
  MW_RETURN_IF_ERROR(CheckAllToAll(input, send_counts, output, recv_counts));
  CountAllToAll(input, send_counts);
  return Staged(input, output, [&](BufferView in, BufferView out) {
    return inner_->AllToAll(in, send_counts, out, recv_counts);
  });
}

}  // namespace mw
