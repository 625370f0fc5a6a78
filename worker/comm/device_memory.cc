#include "worker/comm/device_memory.h"

#ifdef MW_TORCH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace mw {

#ifdef MW_TORCH_CUDA
namespace {

c10::DeviceIndex Ordinal(const DeviceSpec& device) {
  return static_cast<c10::DeviceIndex>(device.index < 0 ? 0 : device.index);
}

// Index 0 of each stat array is the aggregate over pool kinds (StatType::AGGREGATE), in
// LibTorch 1.13 and 2.x alike; the enum itself moved namespaces between them.
constexpr size_t kAggregate = 0;

}  // namespace
#endif

std::optional<DeviceMemory> ReadDeviceMemory(const DeviceSpec& device) {
  if (!device.cuda) return std::nullopt;
#ifdef MW_TORCH_CUDA
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(Ordinal(device));
  DeviceMemory memory;
  memory.allocated = stats.allocated_bytes[kAggregate].current;
  memory.reserved = stats.reserved_bytes[kAggregate].current;
  memory.peak = stats.allocated_bytes[kAggregate].peak;
  return memory;
#else
  return std::nullopt;
#endif
}

void ResetPeakDeviceMemory(const DeviceSpec& device) {
#ifdef MW_TORCH_CUDA
  if (device.cuda) c10::cuda::CUDACachingAllocator::resetPeakStats(Ordinal(device));
#else
  (void)device;
#endif
}

}  // namespace mw
