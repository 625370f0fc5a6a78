#include "worker/comm/torch_device.h"

#include <torch/cuda.h>

#include <string>

namespace mw {

c10::Device TorchDevice(const DeviceSpec& spec) {
  if (!spec.cuda) return c10::Device(c10::kCPU);
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(spec.index < 0 ? 0 : spec.index));
}

bool BuiltWithCuda() {
#ifdef MW_TORCH_CUDA
  return true;
#else
  return false;
#endif
}

Status CheckDeviceAvailable(const DeviceSpec& spec) {
  if (!spec.cuda) return Status::Ok();
  const std::string name = "device " + spec.ToString();
  if (!BuiltWithCuda()) {
    return Status::FailedPrecondition(
        name +
        ": this worker's LibTorch is built without CUDA (use the worker-gpu image, or "
        "build against a CUDA LibTorch: docs/gpu.md)");
  }
  const auto count = static_cast<int>(torch::cuda::device_count());
  if (count == 0) return Status::FailedPrecondition(name + ": no GPU is visible to this worker");
  const int index = spec.index < 0 ? 0 : spec.index;
  if (index >= count) {
    return Status::FailedPrecondition(name + ": only " + std::to_string(count) +
                                      " GPU(s) are visible to this worker");
  }
  return Status::Ok();
}

}  // namespace mw
