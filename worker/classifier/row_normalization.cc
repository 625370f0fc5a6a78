#include "worker/classifier/row_normalization.h"

#include <ATen/ATen.h>

namespace mw {

namespace {
constexpr double kNormEpsilon = 1e-12;  // as torch.nn.functional.normalize
}

NormalizedRows NormalizeRows(const at::Tensor& rows) {
  at::Tensor norms = rows.norm(2, {1}, /*keepdim=*/true).clamp_min(kNormEpsilon);
  return {norms, rows / norms};
}

at::Tensor NormalizeRowsBackward(const NormalizedRows& rows, at::Tensor grad_unit) {
  at::Tensor radial = (rows.unit * grad_unit).sum(1, /*keepdim=*/true);
  return grad_unit.sub_(rows.unit * radial).div_(rows.norms);
}

}  // namespace mw
