// The kNN monitor: classifies each test feature by a weighted vote of its k most similar
// training features (cosine), each neighbour voting exp(similarity / t) for its label, as
// in instance-discrimination papers (k = 200, t = 0.07).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace mw {

struct KnnOptions {
  int64_t k = 200;
  double temperature = 0.07;
  int64_t num_classes = 10;
  int64_t block = 1024;  // test rows per similarity block
};

// Features need not be normalised. Returns top-1 accuracy in [0, 1].
double KnnAccuracy(const at::Tensor& train_features, const at::Tensor& train_labels,
                   const at::Tensor& test_features, const at::Tensor& test_labels,
                   const KnnOptions& options);

}  // namespace mw
