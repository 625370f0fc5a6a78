// The gang's communicator when things go wrong, on the device it runs on (bench/gpu/run.sh
// runs both checks; on the CPU they run over Gloo, which is how CI keeps them working).
//
//   gang_faults dead_peer    --device cuda|cpu [--timeout-s 20]
//       Two ranks (MW_RANK, MW_WORLD_SIZE = 2, MW_STORE_PORT) all-reduce 4 MiB in a loop; rank 1
//       SIGKILLs itself before its 20th. Rank 0 prints, as one JSON line, how long its failing
//       collective took to return, the error, and how long the communicator's teardown took
//       (NCCL: an abort; a destroy would wait for the dead peer for good).
//   gang_faults stream_order --device cuda
//       A one-rank gang all-gathers a buffer that a kernel on a side stream (LibTorch's current
//       stream, not the default one) writes after a long matrix product. Prints whether the
//       gathered bytes are the written ones: the collective must wait for that stream.
#include <ATen/ATen.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "common/device_spec.h"
#include "worker/comm/gang_communicator.h"
#include "worker/comm/rendezvous.h"
#include "worker/comm/tensor_buffer.h"
#include "worker/comm/torch_device.h"
#ifdef MW_TORCH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace mw {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::map<std::string, std::string> ParseFlags(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  for (int i = 2; i + 1 < argc; i += 2) flags[argv[i]] = argv[i + 1];
  return flags;
}

Status Connect(const std::string& device_flag, int timeout_s, GangOptions gang, DeviceSpec* device,
               std::unique_ptr<Communicator>* comm) {
  MW_RETURN_IF_ERROR(ParseDevice(device_flag, device));
  *device = BindGpu(*device, gang.rank);
  MW_RETURN_IF_ERROR(CheckDeviceAvailable(*device));
  gang.timeout = std::chrono::seconds(timeout_s);
  return ConnectGang(gang, *device, comm);
}

Status DeadPeer(const std::map<std::string, std::string>& flags) {
  GangOptions gang;
  MW_RETURN_IF_ERROR(GangOptionsFromEnvironment(&gang));
  if (gang.world_size != 2) return Status::InvalidArgument("dead_peer runs on 2 ranks");
  const int timeout_s = flags.count("--timeout-s") ? std::stoi(flags.at("--timeout-s")) : 20;
  DeviceSpec device;
  std::unique_ptr<Communicator> comm;
  MW_RETURN_IF_ERROR(Connect(flags.count("--device") ? flags.at("--device") : "cuda", timeout_s,
                             gang, &device, &comm));
  const at::Tensor x = at::ones({1 << 20}, at::TensorOptions().device(TorchDevice(device)));
  constexpr int kBeforeDeath = 20;
  for (int i = 0;; ++i) {
    if (gang.rank == 1 && i == kBeforeDeath) ::raise(SIGKILL);
    const auto start = Clock::now();
    const Status reduced = comm->AllReduce(ViewOf(x), ReduceOp::kSum);
    if (reduced.ok()) {
      if (i > 10 * kBeforeDeath) return Status::Internal("the peer's death went unnoticed");
      continue;
    }
    const double error_after_s = Since(start);
    const auto teardown = Clock::now();
    comm.reset();
    std::printf(
        "{\"mode\": \"dead_peer\", \"device\": \"%s\", \"collectives\": %d, "
        "\"error_after_s\": %.3f, \"timeout_s\": %d, \"teardown_s\": %.3f, \"error\": \"%s\"}\n",
        device.ToString().c_str(), i, error_after_s, timeout_s, Since(teardown),
        CodeName(reduced.code()));
    return Status::Ok();
  }
}

Status StreamOrder(const std::map<std::string, std::string>& flags) {
#ifdef MW_TORCH_CUDA
  GangOptions gang;
  gang.world_size = 1;
  MW_RETURN_IF_ERROR(GangOptionsFromEnvironment(&gang));
  DeviceSpec device;
  std::unique_ptr<Communicator> comm;
  MW_RETURN_IF_ERROR(
      Connect(flags.count("--device") ? flags.at("--device") : "cuda", 60, gang, &device, &comm));
  if (!device.cuda) return Status::InvalidArgument("stream_order needs a CUDA device");
  const auto options = at::TensorOptions().device(TorchDevice(device));
  at::Tensor input = at::zeros({1 << 22}, options);
  at::Tensor output = at::empty({1 << 22}, options);
  const at::Tensor a = at::randn({8192, 8192}, options), b = at::randn({8192, 8192}, options);
  at::Tensor product = at::empty({8192, 8192}, options);
  c10::cuda::device_synchronize();
  int wrong = 0;
  {
    const c10::cuda::CUDAStreamGuard side(c10::cuda::getStreamFromPool());
    for (int trial = 0; trial < 5; ++trial) {
      at::mm_out(product, a, b);  // milliseconds of work queued on the side stream ahead of
      input.fill_(static_cast<double>(trial + 1));  // the write the collective must wait for
      MW_RETURN_IF_ERROR(comm->AllGather(ViewOf(input), ViewOf(output)));
      wrong += output.ne(static_cast<double>(trial + 1)).any().item<bool>() ? 1 : 0;
    }
  }
  std::printf("{\"mode\": \"stream_order\", \"device\": \"%s\", \"trials\": 5, \"wrong\": %d}\n",
              device.ToString().c_str(), wrong);
  return wrong == 0 ? Status::Ok() : Status::Internal("a collective read a buffer too early");
#else
  (void)flags;
  return Status::FailedPrecondition("stream_order needs LibTorch with CUDA");
#endif
}

}  // namespace
}  // namespace mw

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  const auto flags = mw::ParseFlags(argc, argv);
  try {
    mw::Status status = mw::Status::InvalidArgument("usage: gang_faults dead_peer|stream_order");
    if (mode == "dead_peer") status = mw::DeadPeer(flags);
    if (mode == "stream_order") status = mw::StreamOrder(flags);
    if (status.ok()) return 0;
    std::fprintf(stderr, "gang_faults: %s\n", status.ToString().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gang_faults: %s\n", e.what());
  }
  return 1;
}
