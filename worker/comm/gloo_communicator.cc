#include "worker/comm/gloo_communicator.h"

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include <string>
#include <utility>

#include "worker/comm/rendezvous_store.h"

namespace mw {

namespace {

at::ScalarType ToScalarType(DataType type) {
  switch (type) {
    case DataType::kFloat32:
      return at::kFloat;
    case DataType::kFloat64:
      return at::kDouble;
    case DataType::kInt32:
      return at::kInt;
    case DataType::kInt64:
      return at::kLong;
  }
  return at::kFloat;
}

at::Tensor Wrap(BufferView view) {
  return at::from_blob(view.data, {view.count}, at::TensorOptions().dtype(ToScalarType(view.type)));
}

}  // namespace

struct GlooCommunicator::Impl {
  std::unique_ptr<Rendezvous> rendezvous;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;

  template <typename Launch>
  Status Run(const char* op, Launch&& launch) {
    try {
      c10::intrusive_ptr<c10d::Work> work = launch();
      work->wait();
      return Status::Ok();
    } catch (const std::exception& e) {
      return StatusFromTransportError(op, e);
    }
  }
};

GlooCommunicator::GlooCommunicator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GlooCommunicator::~GlooCommunicator() = default;

Status GlooCommunicator::Create(const GangOptions& options, std::unique_ptr<Communicator>* out) {
  auto impl = std::make_unique<Impl>();
  MW_RETURN_IF_ERROR(Rendezvous::Connect(options, &impl->rendezvous));
  try {
    auto gloo_options = c10d::ProcessGroupGloo::Options::create(options.timeout);
    gloo_options->devices.push_back(
        c10d::ProcessGroupGloo::createDeviceForHostname(options.bind_host));
    gloo_options->threads = 1;
    impl->group = c10::make_intrusive<c10d::ProcessGroupGloo>(
        impl->rendezvous->impl().store, options.rank, options.world_size, gloo_options);
  } catch (const std::exception& e) {
    return StatusFromTransportError("gloo rendezvous", e)
        .Annotate("rank " + std::to_string(options.rank) + " via " + options.store_host + ":" +
                  std::to_string(options.store_port));
  }
  out->reset(new GlooCommunicator(std::move(impl)));
  return Status::Ok();
}

int GlooCommunicator::rank() const { return impl_->group->getRank(); }
int GlooCommunicator::world_size() const { return impl_->group->getSize(); }

Status GlooCommunicator::AllReduce(BufferView buffer, ReduceOp op) {
  std::vector<at::Tensor> tensors{Wrap(buffer)};
  c10d::AllreduceOptions opts;
  opts.reduceOp = op == ReduceOp::kSum ? c10d::ReduceOp::SUM : c10d::ReduceOp::MAX;
  CountAllReduce(buffer);
  return impl_->Run("all-reduce", [&] { return impl_->group->allreduce(tensors, opts); });
}

Status GlooCommunicator::AllGather(BufferView input, BufferView output) {
  MW_RETURN_IF_ERROR(CheckAllGather(input, output));
  // This c10d version lacks _allgather_base: gather into per-rank views of the output, which
  // share its storage, so no copy follows.
  std::vector<at::Tensor> inputs{Wrap(input)};
  std::vector<std::vector<at::Tensor>> outputs(1, Wrap(output).chunk(world_size()));
  CountAllGather(input);
  return impl_->Run("all-gather", [&] { return impl_->group->allgather(outputs, inputs); });
}

Status GlooCommunicator::ReduceScatter(BufferView input, BufferView output) {
  MW_RETURN_IF_ERROR(CheckReduceScatter(input, output));
  // c10d's Gloo has no reduce_scatter here; an all-to-all of equal blocks followed by a local
  // sum moves (W-1)/W of the buffer, as a ring reduce-scatter would.
  const int w = world_size();
  at::Tensor in = Wrap(input);
  at::Tensor received = at::empty_like(in);
  std::vector<int64_t> splits(static_cast<size_t>(w), output.count);
  CountReduceScatter(input);
  MW_RETURN_IF_ERROR(impl_->Run(
      "reduce-scatter", [&] { return impl_->group->alltoall_base(received, in, splits, splits); }));
  at::Tensor summed = Wrap(output).view({1, output.count});
  at::sum_out(summed, received.view({w, output.count}), {0}, /*keepdim=*/true);
  return Status::Ok();
}

Status GlooCommunicator::Broadcast(BufferView buffer, int root) {
  if (root < 0 || root >= world_size()) {
    return Status::InvalidArgument("broadcast: root = " + std::to_string(root) + " out of range");
  }
  std::vector<at::Tensor> tensors{Wrap(buffer)};
  c10d::BroadcastOptions opts;
  opts.rootRank = root;
  CountBroadcast(buffer, root);
  return impl_->Run("broadcast", [&] { return impl_->group->broadcast(tensors, opts); });
}

Status GlooCommunicator::AllToAll(BufferView input, const std::vector<int64_t>& send_counts,
                                  BufferView output, const std::vector<int64_t>& recv_counts) {
  MW_RETURN_IF_ERROR(CheckAllToAll(input, send_counts, output, recv_counts));
  at::Tensor in = Wrap(input);
  at::Tensor out = Wrap(output);
  std::vector<int64_t> sends = send_counts;
  std::vector<int64_t> recvs = recv_counts;
  CountAllToAll(input, send_counts);
  return impl_->Run("all-to-all",
                    [&] { return impl_->group->alltoall_base(out, in, recvs, sends); });
}

Status GlooCommunicator::Barrier() {
  return impl_->Run("barrier", [&] { return impl_->group->barrier(); });
}

}  // namespace mw
