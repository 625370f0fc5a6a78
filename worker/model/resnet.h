// ResNet backbones with torchvision's architecture and parameter names (conv1, bn1,
// layer1.0.conv1, ..., layer4.1.downsample.0, fc), so that a trained backbone exports as a
// state dict torchvision.models.resnet18() / resnet50() load with strict=True; and a small
// variant for 28 x 28 images that trains on two CPU cores.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <string>
#include <vector>

#include "common/status.h"

namespace mw {

struct ResNetSpec {
  bool bottleneck = false;  // Bottleneck (ResNet-50) or BasicBlock (ResNet-18)
  std::vector<int64_t> blocks{2, 2, 2, 2};
  std::vector<int64_t> widths{64, 128, 256, 512};
  int64_t in_channels = 3;
  bool imagenet_stem = true;   // 7x7/2 conv + 3x3/2 max-pool; else one 3x3/1 conv
  int64_t num_classes = 1000;  // torchvision's fc, kept so the export loads strictly

  static ResNetSpec ResNet18();
  static ResNetSpec ResNet50();
  // For 28 x 28 grey images: 3x3 stem, BasicBlocks of width 32/64/128, one block each.
  static ResNetSpec Small();
  // "resnet18", "resnet50" or "small"; INVALID_ARGUMENT naming the value otherwise.
  static Status FromName(const std::string& name, ResNetSpec* out);
};

class ResNetImpl : public torch::nn::Module {
 public:
  explicit ResNetImpl(const ResNetSpec& spec);

  // Pooled features before fc: [N, feature_dim()].
  at::Tensor Features(const at::Tensor& images);
  // torchvision's forward: fc(Features(images)).
  at::Tensor forward(const at::Tensor& images);

  int64_t feature_dim() const { return feature_dim_; }

 private:
  torch::nn::Sequential MakeLayer(int64_t& in_planes, int64_t planes, int64_t blocks,
                                  int64_t stride, bool bottleneck);

  bool imagenet_stem_;
  int64_t feature_dim_;
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  std::vector<torch::nn::Sequential> layers_;
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(ResNet);

}  // namespace mw
