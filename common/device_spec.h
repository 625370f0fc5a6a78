// DeviceSpec: where a worker's tensors live, as a job spec or a flag names it ("cpu",
// "cuda", "cuda:N"). Parsed and printed without LibTorch, so the coordinator and mwctl refuse a
// bad name before any worker starts; whether the device exists is the worker's check.
#pragma once

#include <string>

#include "common/status.h"

namespace mw {

struct DeviceSpec {
  bool cuda = false;
  // The CUDA ordinal; -1 with cuda: "the worker's own GPU" (its --gpu flag, else 0).
  int index = -1;

  std::string ToString() const;
  bool operator==(const DeviceSpec& other) const {
    return cuda == other.cuda && index == other.index;
  }
};

// spec with a bare "cuda" bound to GPU `gpu` (a worker's own GPU, or a local rank's); a
// spec naming its ordinal, or the CPU, is kept.
DeviceSpec BindGpu(DeviceSpec spec, int gpu);

// "cpu", "cuda" or "cuda:N" with 0 <= N < 1024; anything else is INVALID_ARGUMENT naming it.
Status ParseDevice(const std::string& text, DeviceSpec* out);

}  // namespace mw
