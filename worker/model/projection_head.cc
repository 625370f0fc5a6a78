#include "worker/model/projection_head.h"

#include <torch/nn/functional/activation.h>

namespace mw {

ProjectionHeadImpl::ProjectionHeadImpl(int64_t in_features, int64_t hidden, int64_t out_features)
    : fc1_(register_module("fc1", torch::nn::Linear(in_features, hidden))),
      bn_(register_module("bn", torch::nn::BatchNorm1d(hidden))),
      fc2_(register_module("fc2", torch::nn::Linear(hidden, out_features))) {}

at::Tensor ProjectionHeadImpl::forward(const at::Tensor& features) {
  return fc2_(torch::nn::functional::relu(bn_(fc1_(features))));
}

}  // namespace mw
