#include "worker/comm/gloo_communicator.h"

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cstdlib>
#include <string>
#include <utility>

namespace mw {

namespace {

at::ScalarType ToScalarType(DataType type) {
  switch (type) {
    case DataType::kFloat32:
      return at::kFloat;
    case DataType::kFloat64:
      return at::kDouble;
    case DataType::kInt64:
      return at::kLong;
  }
  return at::kFloat;
}

at::Tensor Wrap(BufferView view) {
  return at::from_blob(view.data, {view.count}, at::TensorOptions().dtype(ToScalarType(view.type)));
}

// c10d reports transport failures as exceptions from wait(); the words tell a timeout from a
// peer that went away.
Status FromException(const char* op, const std::exception& e) {
  const std::string what = e.what();
  const std::string msg = std::string(op) + ": " + what.substr(0, what.find('\n'));
  if (what.find("imed out") != std::string::npos || what.find("imeout") != std::string::npos) {
    return Status::DeadlineExceeded(msg);
  }
  return Status::Unavailable(msg);
}

Status IntFromEnvironment(const char* name, int* out) {
  const char* text = std::getenv(name);
  if (text == nullptr) return Status::Ok();
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0') {
    return Status::InvalidArgument(std::string(name) + " = '" + text + "' is not an integer");
  }
  *out = static_cast<int>(value);
  return Status::Ok();
}

}  // namespace

Status GlooOptionsFromEnvironment(GlooOptions* options) {
  MW_RETURN_IF_ERROR(IntFromEnvironment("MW_RANK", &options->rank));
  MW_RETURN_IF_ERROR(IntFromEnvironment("MW_WORLD_SIZE", &options->world_size));
  MW_RETURN_IF_ERROR(IntFromEnvironment("MW_STORE_PORT", &options->store_port));
  if (const char* host = std::getenv("MW_STORE_HOST")) options->store_host = host;
  return Status::Ok();
}

struct GlooCommunicator::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;

  template <typename Launch>
  Status Run(const char* op, Launch&& launch) {
    try {
      c10::intrusive_ptr<c10d::Work> work = launch();
      work->wait();
      return Status::Ok();
    } catch (const std::exception& e) {
      return FromException(op, e);
    }
  }
};

GlooCommunicator::GlooCommunicator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GlooCommunicator::~GlooCommunicator() = default;

Status GlooCommunicator::Create(const GlooOptions& options, std::unique_ptr<Communicator>* out) {
  if (options.world_size < 1) {
    return Status::InvalidArgument("world_size = " + std::to_string(options.world_size) +
                                   " must be >= 1");
  }
  if (options.rank < 0 || options.rank >= options.world_size) {
    return Status::InvalidArgument("rank = " + std::to_string(options.rank) + " must be in [0, " +
                                   std::to_string(options.world_size) + ")");
  }
  if (options.store_port <= 0 || options.store_port > 65535) {
    return Status::InvalidArgument("store_port = " + std::to_string(options.store_port) +
                                   " must be in [1, 65535]");
  }
  auto impl = std::make_unique<Impl>();
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(options.store_port);
    store_options.isServer = options.rank == 0;
    store_options.numWorkers = static_cast<size_t>(options.world_size);
    store_options.waitWorkers = true;
    store_options.timeout = options.timeout;
    impl->store = c10::make_intrusive<c10d::TCPStore>(options.store_host, store_options);

    auto gloo_options = c10d::ProcessGroupGloo::Options::create(options.timeout);
    gloo_options->devices.push_back(
        c10d::ProcessGroupGloo::createDeviceForHostname(options.bind_host));
    gloo_options->threads = 1;
    impl->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl->store, options.rank,
                                                              options.world_size, gloo_options);
  } catch (const std::exception& e) {
    return FromException("gloo rendezvous", e)
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
