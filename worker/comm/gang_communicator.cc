#include "worker/comm/gang_communicator.h"

#include "worker/comm/gloo_communicator.h"
#ifdef MW_WITH_NCCL
#include "worker/comm/nccl_communicator.h"
#endif
#ifdef MW_TORCH_CUDA
#include <c10/cuda/CUDAStream.h>
#endif

namespace mw {

bool BuiltWithNccl() {
#ifdef MW_WITH_NCCL
  return true;
#else
  return false;
#endif
}

Status ConnectGang(const GangOptions& options, const DeviceSpec& device,
                   std::unique_ptr<Communicator>* out) {
  if (!device.cuda) return GlooCommunicator::Create(options, out);
#ifdef MW_WITH_NCCL
  std::unique_ptr<Rendezvous> rendezvous;
  MW_RETURN_IF_ERROR(Rendezvous::Connect(options, &rendezvous));
  NcclOptions nccl;
  nccl.rank = options.rank;
  nccl.world_size = options.world_size;
  nccl.device = device.index < 0 ? 0 : device.index;
  nccl.timeout = options.timeout;
#ifdef MW_TORCH_CUDA
  // Collectives read what LibTorch's kernels wrote on whatever stream is current.
  nccl.producer_stream = [] {
    return static_cast<void*>(c10::cuda::getCurrentCUDAStream().stream());
  };
#endif
  MW_RETURN_IF_ERROR(rendezvous->ShareFromRankZero(kNcclUniqueIdKey, NcclCommunicator::NewUniqueId,
                                                   &nccl.unique_id));
  // Initialisation is collective: once it returns, every rank has read the id, so rank 0's
  // store may go.
  return NcclCommunicator::Create(nccl, out);
#else
  return Status::FailedPrecondition("device " + device.ToString() +
                                    ": this worker is built without NCCL (CUDA and NCCL were not "
                                    "found under MW_CUDA_ROOT)");
#endif
}

}  // namespace mw
