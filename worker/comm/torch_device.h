// The LibTorch side of DeviceSpec: the at::Device it names, whether this process can use it,
// and the stream a kernel launched beside LibTorch's own work must use.
#pragma once

#include <c10/core/Device.h>

#include "common/device_spec.h"
#include "common/status.h"

namespace mw {

// "cuda" without an ordinal is cuda:0: the worker resolves it from its --gpu flag first.
c10::Device TorchDevice(const DeviceSpec& spec);

// FAILED_PRECONDITION naming the device when this process cannot place tensors on it: a CPU-only
// LibTorch, no GPU visible, or an ordinal past the GPUs there are.
Status CheckDeviceAvailable(const DeviceSpec& spec);

// True where LibTorch was built with CUDA (MW_TORCH_CUDA): the kernels in *.cu are linked.
bool BuiltWithCuda();

}  // namespace mw
