#include "worker/comm/nccl_communicator.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <thread>
#include <utility>

namespace mw {

namespace {

ncclDataType_t ToNccl(DataType type) {
  switch (type) {
    case DataType::kFloat32:
      return ncclFloat32;
    case DataType::kFloat64:
      return ncclFloat64;
    case DataType::kInt32:
      return ncclInt32;
    case DataType::kInt64:
      return ncclInt64;
  }
  return ncclFloat32;
}

Status FromCuda(const char* op, cudaError_t err) {
  if (err == cudaSuccess) return Status::Ok();
  return Status::Internal(std::string(op) + ": " + cudaGetErrorString(err));
}

Status FromNccl(const char* op, ncclResult_t res) {
  if (res == ncclSuccess || res == ncclInProgress) return Status::Ok();
  const std::string msg = std::string(op) + ": " + ncclGetErrorString(res);
  if (res == ncclRemoteError || res == ncclSystemError) return Status::Unavailable(msg);
  if (res == ncclInvalidArgument || res == ncclInvalidUsage) return Status::InvalidArgument(msg);
  return Status::Internal(msg);
}

}  // namespace

struct NcclCommunicator::Impl {
  NcclOptions options;
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;  // around each collective, for its device time
  cudaEvent_t ready = nullptr;                  // the producer stream's work, waited on
  double last_seconds = 0;
  void* barrier_word = nullptr;  // one float on the device, all-reduced by Barrier()
  bool aborted = false;

  ~Impl() {
    Abort();
    if (barrier_word != nullptr) cudaFree(barrier_word);
    for (cudaEvent_t event : {start, stop, ready}) {
      if (event != nullptr) cudaEventDestroy(event);
    }
    if (stream != nullptr) cudaStreamDestroy(stream);
  }

  // Frees the communicator without waiting for the peers, and unblocks their kernels.
  void Abort() {
    if (comm != nullptr) ncclCommAbort(comm);
    comm = nullptr;
    aborted = true;
  }

  // Polls until the communicator is ready (after init) or the stream has drained (after a
  // collective), checking NCCL's asynchronous error; an error or the deadline aborts the
  // communicator there and then. The poll backs off to sleeps of up to 200 us, so a rank
  // waiting on a long collective does not hold a core.
  Status Await(const char* op, bool wait_stream) {
    const auto deadline = std::chrono::steady_clock::now() + options.timeout;
    auto pause = std::chrono::microseconds(1);
    for (;;) {
      ncclResult_t async_error = ncclSuccess;
      ncclCommGetAsyncError(comm, &async_error);
      if (async_error != ncclSuccess && async_error != ncclInProgress) {
        Abort();
        return FromNccl(op, async_error);
      }
      bool done = async_error == ncclSuccess;
      if (done && wait_stream) {
        const cudaError_t q = cudaEventQuery(stop);
        if (q != cudaSuccess && q != cudaErrorNotReady) return FromCuda(op, q);
        done = q == cudaSuccess;
      }
      if (done) return Status::Ok();
      if (std::chrono::steady_clock::now() > deadline) {
        Abort();
        return Status::DeadlineExceeded(std::string(op) + ": no completion within " +
                                        std::to_string(options.timeout.count()) +
                                        " ms; communicator aborted");
      }
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds(200));
    }
  }

  // Enqueues a collective between two events and waits for it. The collective's stream first
  // waits for the producer stream's work (so no buffer is read before the kernel writing it
  // has run); the events sit on the collective's stream, so their interval is the collective
  // alone, not the compute it waited for.
  Status Launch(const char* op, const std::function<ncclResult_t()>& enqueue) {
    if (aborted) return Status::FailedPrecondition(std::string(op) + ": communicator aborted");
    auto producer =
        static_cast<cudaStream_t>(options.producer_stream ? options.producer_stream() : nullptr);
    MW_RETURN_IF_ERROR(FromCuda("cudaEventRecord", cudaEventRecord(ready, producer)));
    MW_RETURN_IF_ERROR(FromCuda("cudaStreamWaitEvent", cudaStreamWaitEvent(stream, ready, 0)));
    MW_RETURN_IF_ERROR(FromCuda("cudaEventRecord", cudaEventRecord(start, stream)));
    const ncclResult_t enqueued = enqueue();
    MW_RETURN_IF_ERROR(FromNccl(op, enqueued));
    // Non-blocking, NCCL may return before its kernel is on the stream (the first collectives
    // set up connections): the end event must come after it.
    if (enqueued == ncclInProgress) MW_RETURN_IF_ERROR(Await(op, /*wait_stream=*/false));
    MW_RETURN_IF_ERROR(FromCuda("cudaEventRecord", cudaEventRecord(stop, stream)));
    MW_RETURN_IF_ERROR(Await(op, /*wait_stream=*/true));
    float ms = 0;
    MW_RETURN_IF_ERROR(FromCuda("cudaEventElapsedTime", cudaEventElapsedTime(&ms, start, stop)));
    last_seconds = ms / 1000.0;
    return Status::Ok();
  }
};

int NcclCommunicator::DeviceCount() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) return 0;
  return count;
}

Status NcclCommunicator::NewUniqueId(std::string* out) {
  ncclUniqueId id;
  MW_RETURN_IF_ERROR(FromNccl("ncclGetUniqueId", ncclGetUniqueId(&id)));
  out->assign(id.internal, sizeof(id.internal));
  return Status::Ok();
}

NcclCommunicator::NcclCommunicator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NcclCommunicator::~NcclCommunicator() = default;

Status NcclCommunicator::Create(const NcclOptions& options, std::unique_ptr<Communicator>* out) {
  if (options.rank < 0 || options.rank >= options.world_size) {
    return Status::InvalidArgument("rank = " + std::to_string(options.rank) + " must be in [0, " +
                                   std::to_string(options.world_size) + ")");
  }
  ncclUniqueId id;
  if (options.unique_id.size() != sizeof(id.internal)) {
    return Status::InvalidArgument("unique_id holds " + std::to_string(options.unique_id.size()) +
                                   " bytes, an ncclUniqueId has " +
                                   std::to_string(sizeof(id.internal)));
  }
  std::memcpy(id.internal, options.unique_id.data(), sizeof(id.internal));

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  MW_RETURN_IF_ERROR(FromCuda("cudaSetDevice", cudaSetDevice(options.device)));
  // A blocking stream (it also waits for the legacy default stream); each collective also
  // waits for the producer stream (Launch).
  MW_RETURN_IF_ERROR(FromCuda("cudaStreamCreate", cudaStreamCreate(&impl->stream)));
  MW_RETURN_IF_ERROR(FromCuda("cudaEventCreate", cudaEventCreate(&impl->start)));
  MW_RETURN_IF_ERROR(FromCuda("cudaEventCreate", cudaEventCreate(&impl->stop)));
  MW_RETURN_IF_ERROR(
      FromCuda("cudaEventCreate", cudaEventCreateWithFlags(&impl->ready, cudaEventDisableTiming)));
  MW_RETURN_IF_ERROR(FromCuda("cudaMalloc", cudaMalloc(&impl->barrier_word, sizeof(float))));
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  MW_RETURN_IF_ERROR(
      FromNccl("ncclCommInitRankConfig",
               ncclCommInitRankConfig(&impl->comm, options.world_size, id, options.rank, &config)));
  MW_RETURN_IF_ERROR(impl->Await("ncclCommInitRankConfig", /*wait_stream=*/false));
  out->reset(new NcclCommunicator(std::move(impl)));
  return Status::Ok();
}

std::optional<double> NcclCommunicator::DeviceSecondsOfLast() const { return impl_->last_seconds; }

int NcclCommunicator::rank() const { return impl_->options.rank; }
int NcclCommunicator::world_size() const { return impl_->options.world_size; }

Status NcclCommunicator::AllReduce(BufferView buffer, ReduceOp op) {
  CountAllReduce(buffer);
  return impl_->Launch("ncclAllReduce", [&] {
    return ncclAllReduce(buffer.data, buffer.data, static_cast<size_t>(buffer.count),
                         ToNccl(buffer.type), op == ReduceOp::kSum ? ncclSum : ncclMax, impl_->comm,
                         impl_->stream);
  });
}

Status NcclCommunicator::AllGather(BufferView input, BufferView output) {
  MW_RETURN_IF_ERROR(CheckAllGather(input, output));
  CountAllGather(input);
  return impl_->Launch("ncclAllGather", [&] {
    return ncclAllGather(input.data, output.data, static_cast<size_t>(input.count),
                         ToNccl(input.type), impl_->comm, impl_->stream);
  });
}

Status NcclCommunicator::ReduceScatter(BufferView input, BufferView output) {
  MW_RETURN_IF_ERROR(CheckReduceScatter(input, output));
  CountReduceScatter(input);
  return impl_->Launch("ncclReduceScatter", [&] {
    return ncclReduceScatter(input.data, output.data, static_cast<size_t>(output.count),
                             ToNccl(input.type), ncclSum, impl_->comm, impl_->stream);
  });
}

Status NcclCommunicator::Broadcast(BufferView buffer, int root) {
  if (root < 0 || root >= world_size()) {
    return Status::InvalidArgument("broadcast: root = " + std::to_string(root) + " out of range");
  }
  CountBroadcast(buffer, root);
  return impl_->Launch("ncclBroadcast", [&] {
    return ncclBroadcast(buffer.data, buffer.data, static_cast<size_t>(buffer.count),
                         ToNccl(buffer.type), root, impl_->comm, impl_->stream);
  });
}

Status NcclCommunicator::AllToAll(BufferView input, const std::vector<int64_t>& send_counts,
                                  BufferView output, const std::vector<int64_t>& recv_counts) {
  MW_RETURN_IF_ERROR(CheckAllToAll(input, send_counts, output, recv_counts));
  CountAllToAll(input, send_counts);
  const size_t element = ElementSize(input.type);
  return impl_->Launch("ncclSend/ncclRecv", [&] {
    auto* send = static_cast<char*>(input.data);
    auto* recv = static_cast<char*>(output.data);
    ncclResult_t res = ncclGroupStart();
    for (int peer = 0; peer < world_size() && res == ncclSuccess; ++peer) {
      const auto p = static_cast<size_t>(peer);
      res = ncclSend(send, static_cast<size_t>(send_counts[p]), ToNccl(input.type), peer,
                     impl_->comm, impl_->stream);
      if (res != ncclSuccess) break;
      res = ncclRecv(recv, static_cast<size_t>(recv_counts[p]), ToNccl(input.type), peer,
                     impl_->comm, impl_->stream);
      send += static_cast<size_t>(send_counts[p]) * element;
      recv += static_cast<size_t>(recv_counts[p]) * element;
    }
    const ncclResult_t end = ncclGroupEnd();
    return res != ncclSuccess ? res : end;
  });
}

Status NcclCommunicator::Barrier() {
  return AllReduce(BufferView{impl_->barrier_word, 1, DataType::kFloat32}, ReduceOp::kSum);
}

}  // namespace mw
