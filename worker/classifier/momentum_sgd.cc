#include "worker/classifier/momentum_sgd.h"

#include <ATen/ATen.h>

namespace mw {

void MomentumSgd::Update(at::Tensor weights, at::Tensor momentum_buffer, at::Tensor grad,
                         double lr) const {
  if (weight_decay != 0) grad.add_(weights, weight_decay);
  momentum_buffer.mul_(momentum).add_(grad);
  weights.sub_(momentum_buffer, lr);
}

}  // namespace mw
