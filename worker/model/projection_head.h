// ProjectionHead: the two-layer MLP between the backbone's pooled features and the
// embedding the instance classifier scores: Linear -> BatchNorm -> ReLU -> Linear.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/linear.h>

namespace mw {

class ProjectionHeadImpl : public torch::nn::Module {
 public:
  ProjectionHeadImpl(int64_t in_features, int64_t hidden, int64_t out_features);
  at::Tensor forward(const at::Tensor& features);

 private:
  torch::nn::Linear fc1_{nullptr};
  torch::nn::BatchNorm1d bn_{nullptr};
  torch::nn::Linear fc2_{nullptr};
};
TORCH_MODULE(ProjectionHead);

}  // namespace mw
