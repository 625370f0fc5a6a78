// Keeping data-parallel replicas identical: gradients summed (or averaged) over ranks before
// every optimizer step, and floating-point buffers (BN running statistics) averaged after
// passes that update them (every training step, in the gradients' message; the prior's
// pass). Each is one flattened all-reduce.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "common/status.h"
#include "worker/comm/communicator.h"

namespace mw {

// Sums `tensors` over the ranks in place, then multiplies them by `scale`.
Status AllReduceTensors(Communicator& comm, const std::vector<at::Tensor>& tensors, double scale);

// The gradients of `params`, zero-filled where a parameter took no part in the backward
// (every rank must contribute the same layout).
std::vector<at::Tensor> GradientsOf(const std::vector<at::Tensor>& params);

// The floating-point buffers of a module tree's named_buffers().
template <typename NamedBuffers>
std::vector<at::Tensor> FloatingBuffers(const NamedBuffers& buffers) {
  std::vector<at::Tensor> out;
  for (const auto& b : buffers) {
    if (b.value().is_floating_point()) out.push_back(b.value());
  }
  return out;
}

}  // namespace mw
