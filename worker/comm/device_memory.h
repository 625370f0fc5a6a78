// What the CUDA caching allocator holds on a GPU: the figures behind the worker's device
// memory gauges (and the GPU benchmark's peak memory).
#pragma once

#include <cstdint>
#include <optional>

#include "common/device_spec.h"

namespace mw {

struct DeviceMemory {
  int64_t allocated = 0;  // bytes held by live tensors
  int64_t reserved = 0;   // bytes the allocator holds from the driver
  int64_t peak = 0;       // the most `allocated` has been since the last ResetPeakDeviceMemory
};

// Empty for the CPU (LibTorch keeps no such counters for host memory; the process collector
// exports the RSS) and where LibTorch has no CUDA.
std::optional<DeviceMemory> ReadDeviceMemory(const DeviceSpec& device);
void ResetPeakDeviceMemory(const DeviceSpec& device);

// Bytes a job could still allocate on the device: what the driver has free plus what the
// caching allocator holds unused. Empty for the CPU and where LibTorch has no CUDA.
std::optional<int64_t> DeviceFreeBytes(const DeviceSpec& device);

}  // namespace mw
