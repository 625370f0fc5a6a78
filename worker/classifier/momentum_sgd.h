// SGD with momentum and weight decay, as torch.optim.SGD (dampening 0, no Nesterov):
//   g = grad + weight_decay * w;  buf = momentum * buf + g;  w -= lr * buf.
// Works on any block of rows, so a shard can be updated block by block as its gradient
// is produced and never holds a shard-sized gradient.
#pragma once

#include <ATen/core/Tensor.h>

namespace mw {

struct MomentumSgd {
  double momentum = 0.9;
  double weight_decay = 1e-4;

  // grad is consumed (used as scratch).
  void Update(at::Tensor weights, at::Tensor momentum_buffer, at::Tensor grad, double lr) const;
};

}  // namespace mw
