// Linear probe: how linearly separable frozen features are. A multinomial logistic
// regression on standardised training features (full-batch L-BFGS, a little L2), scored by
// top-1 accuracy on the test features. The usual protocol for self-supervised backbones,
// made deterministic and fast enough to run after every epoch.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace mw {

struct LinearProbeOptions {
  int64_t num_classes = 10;
  int64_t iterations = 150;  // L-BFGS iterations over the whole training set
  double weight_decay = 1e-4;
};

// Features [n, d] (any scale), labels [n] in [0, num_classes). Returns test top-1 in [0, 1].
double LinearProbeAccuracy(const at::Tensor& train_features, const at::Tensor& train_labels,
                           const at::Tensor& test_features, const at::Tensor& test_labels,
                           const LinearProbeOptions& options);

}  // namespace mw
