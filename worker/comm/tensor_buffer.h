// Views a contiguous tensor's memory as a Communicator buffer.
#pragma once

#include <ATen/core/Tensor.h>

#include "worker/comm/communicator.h"

namespace mw {

// t must be contiguous and of a type the communicator carries (float32, float64, int64).
BufferView ViewOf(const at::Tensor& t);

}  // namespace mw
