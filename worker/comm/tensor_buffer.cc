#include "worker/comm/tensor_buffer.h"

#include <c10/util/Exception.h>

namespace mw {

BufferView ViewOf(const at::Tensor& t) {
  TORCH_CHECK(t.is_contiguous(), "communicator buffers must be contiguous");
  DataType type = DataType::kFloat32;
  switch (t.scalar_type()) {
    case at::kFloat:
      type = DataType::kFloat32;
      break;
    case at::kDouble:
      type = DataType::kFloat64;
      break;
    case at::kInt:
      type = DataType::kInt32;
      break;
    case at::kLong:
      type = DataType::kInt64;
      break;
    default:
      TORCH_CHECK(false, "communicator buffers carry float32, float64, int32 or int64, not ",
                  t.scalar_type());
  }
  return BufferView{t.data_ptr(), t.numel(), type};
}

}  // namespace mw
