// ConnectGang: the communicator a gang's ranks use for a device. On the CPU, Gloo; on a GPU,
// NCCL, whose unique id rank 0 makes and publishes through the gang's rendezvous store for
// the others to read. This is the one place that chooses a transport.
#pragma once

#include <memory>

#include "common/device_spec.h"
#include "worker/comm/communicator.h"
#include "worker/comm/rendezvous.h"

namespace mw {

// The key NCCL's unique id is published under in the gang's store.
inline constexpr const char* kNcclUniqueIdKey = "millionway/nccl_unique_id";

Status ConnectGang(const GangOptions& options, const DeviceSpec& device,
                   std::unique_ptr<Communicator>* out);

// True where this build has the NCCL transport (MW_WITH_NCCL).
bool BuiltWithNccl();

}  // namespace mw
