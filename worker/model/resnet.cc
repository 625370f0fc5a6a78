#include "worker/model/resnet.h"

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/pooling.h>
#include <torch/nn/init.h>

namespace mw {

namespace F = torch::nn::functional;

namespace {

torch::nn::Conv2d Conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}

// torchvision's BasicBlock (expansion 1) and Bottleneck (expansion 4, stride on the 3x3
// conv, "ResNet v1.5"), with the same child names.
class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(int64_t in_planes, int64_t planes, int64_t stride, bool bottleneck)
      : bottleneck_(bottleneck) {
    const int64_t out_planes = planes * (bottleneck ? 4 : 1);
    if (bottleneck) {
      conv1_ = register_module("conv1", Conv(in_planes, planes, 1, 1));
      bn1_ = register_module("bn1", torch::nn::BatchNorm2d(planes));
      conv2_ = register_module("conv2", Conv(planes, planes, 3, stride));
      bn2_ = register_module("bn2", torch::nn::BatchNorm2d(planes));
      conv3_ = register_module("conv3", Conv(planes, out_planes, 1, 1));
      bn3_ = register_module("bn3", torch::nn::BatchNorm2d(out_planes));
    } else {
      conv1_ = register_module("conv1", Conv(in_planes, planes, 3, stride));
      bn1_ = register_module("bn1", torch::nn::BatchNorm2d(planes));
      conv2_ = register_module("conv2", Conv(planes, planes, 3, 1));
      bn2_ = register_module("bn2", torch::nn::BatchNorm2d(planes));
    }
    if (stride != 1 || in_planes != out_planes) {
      downsample_ = register_module("downsample",
                                    torch::nn::Sequential(Conv(in_planes, out_planes, 1, stride),
                                                          torch::nn::BatchNorm2d(out_planes)));
    }
  }

  at::Tensor forward(const at::Tensor& x) {
    at::Tensor out = F::relu(bn1_(conv1_(x)));
    out = bn2_(conv2_(out));
    if (bottleneck_) out = bn3_(conv3_(F::relu(out)));
    const at::Tensor identity = downsample_ ? downsample_->forward(x) : x;
    return F::relu(out + identity);
  }

 private:
  bool bottleneck_;
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr}, bn3_{nullptr};
  torch::nn::Sequential downsample_{nullptr};
};
TORCH_MODULE(Block);

}  // namespace

ResNetSpec ResNetSpec::ResNet18() { return ResNetSpec{}; }

ResNetSpec ResNetSpec::ResNet50() {
  ResNetSpec spec;
  spec.bottleneck = true;
  spec.blocks = {3, 4, 6, 3};
  return spec;
}

ResNetSpec ResNetSpec::Small() {
  ResNetSpec spec;
  spec.blocks = {1, 1, 1};
  spec.widths = {32, 64, 128};
  spec.in_channels = 1;
  spec.imagenet_stem = false;
  spec.num_classes = 10;
  return spec;
}

Status ResNetSpec::FromName(const std::string& name, ResNetSpec* out) {
  if (name == "resnet18") {
    *out = ResNet18();
  } else if (name == "resnet50") {
    *out = ResNet50();
  } else if (name == "small") {
    *out = Small();
  } else {
    return Status::InvalidArgument("backbone = '" + name +
                                   "' is not one of resnet18, resnet50, small");
  }
  return Status::Ok();
}

ResNetImpl::ResNetImpl(const ResNetSpec& spec) : imagenet_stem_(spec.imagenet_stem) {
  const int64_t stem_width = spec.widths.front();
  conv1_ = register_module("conv1", imagenet_stem_ ? Conv(spec.in_channels, stem_width, 7, 2)
                                                   : Conv(spec.in_channels, stem_width, 3, 1));
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(stem_width));
  int64_t in_planes = stem_width;
  for (size_t i = 0; i < spec.blocks.size(); ++i) {
    const int64_t stride = i == 0 ? 1 : 2;
    layers_.push_back(register_module(
        "layer" + std::to_string(i + 1),
        MakeLayer(in_planes, spec.widths[i], spec.blocks[i], stride, spec.bottleneck)));
  }
  feature_dim_ = in_planes;
  fc_ = register_module("fc", torch::nn::Linear(feature_dim_, spec.num_classes));

  // torchvision's initialisation: He (fan_out) for convolutions, BN scale 1 and shift 0.
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<torch::nn::Conv2d>()) {
      torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
    } else if (auto* bn = module->as<torch::nn::BatchNorm2d>()) {
      torch::nn::init::ones_(bn->weight);
      torch::nn::init::zeros_(bn->bias);
    }
  }
}

torch::nn::Sequential ResNetImpl::MakeLayer(int64_t& in_planes, int64_t planes, int64_t blocks,
                                            int64_t stride, bool bottleneck) {
  torch::nn::Sequential layer;
  for (int64_t b = 0; b < blocks; ++b) {
    layer->push_back(Block(in_planes, planes, b == 0 ? stride : 1, bottleneck));
    in_planes = planes * (bottleneck ? 4 : 1);
  }
  return layer;
}

at::Tensor ResNetImpl::Features(const at::Tensor& images) {
  at::Tensor x = F::relu(bn1_(conv1_(images)));
  if (imagenet_stem_) {
    x = F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(2).padding(1));
  }
  for (auto& layer : layers_) x = layer->forward(x);
  return F::adaptive_avg_pool2d(x, F::AdaptiveAvgPool2dFuncOptions(1)).flatten(1);
}

at::Tensor ResNetImpl::forward(const at::Tensor& images) { return fc_(Features(images)); }

}  // namespace mw
