// Row-wise L2 normalisation and its backward pass: cosine logits normalise both the
// features and the classifier rows, and gradients flow back through both.
#pragma once

#include <ATen/core/Tensor.h>

namespace mw {

struct NormalizedRows {
  at::Tensor norms;  // [n, 1], clamped away from zero
  at::Tensor unit;   // [n, d]
};

NormalizedRows NormalizeRows(const at::Tensor& rows);

// Given dL/d(unit), returns dL/d(rows): (g - unit <unit, g>) / |row|. Consumes grad_unit.
at::Tensor NormalizeRowsBackward(const NormalizedRows& rows, at::Tensor grad_unit);

}  // namespace mw
