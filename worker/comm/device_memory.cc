#include "worker/comm/device_memory.h"

#ifdef MW_TORCH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>
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

std::optional<int64_t> DeviceFreeBytes(const DeviceSpec& device) {
  if (!device.cuda) return std::nullopt;
#ifdef MW_TORCH_CUDA
  const c10::cuda::CUDAGuard guard(Ordinal(device));
  size_t free = 0, total = 0;
  if (cudaMemGetInfo(&free, &total) != cudaSuccess) return std::nullopt;
  const DeviceMemory held = *ReadDeviceMemory(device);
  return static_cast<int64_t>(free) + (held.reserved - held.allocated);
#else
  return std::nullopt;
#endif
}

}  // namespace mw
