// Backbones: torchvision's parameter counts and names, and an export that torchvision loads
// strictly and that gives the C++ model's outputs.
#include <gtest/gtest.h>
#include <torch/serialize.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "worker/model/autocast_scope.h"
#include "worker/model/projection_head.h"
#include "worker/model/resnet.h"
#include "worker/model/state_dict_export.h"

namespace mw {
namespace {

int64_t ParameterCount(ResNet& model) {
  int64_t n = 0;
  for (const auto& p : model->parameters()) n += p.numel();
  return n;
}

// The mixed-precision forward pass the trainer runs for precision: bf16 (LibTorch runs bf16 on
// the CPU too): products in bf16 inside the scope, fp32 again after it, fp32 parameters and
// gradients throughout, and an embedding within bf16's rounding of the fp32 one.
TEST(AutocastScope, RunsTheForwardInBf16AndRestoresFp32) {
  torch::manual_seed(3);
  ResNet backbone(ResNetSpec::Small());
  ProjectionHead head(backbone->feature_dim(), 64, 16);
  backbone->eval();
  head->eval();
  const at::Tensor images = torch::randn({4, 1, 28, 28});
  const at::Tensor reference = head->forward(backbone->Features(images));
  at::Tensor mixed;
  {
    AutocastScope autocast(c10::Device(c10::kCPU), /*enabled=*/true);
    mixed = head->forward(backbone->Features(images));
    EXPECT_EQ(torch::mm(torch::ones({2, 2}), torch::ones({2, 2})).scalar_type(), at::kBFloat16);
  }
  EXPECT_EQ(mixed.scalar_type(), at::kBFloat16);
  EXPECT_EQ(torch::mm(torch::ones({2, 2}), torch::ones({2, 2})).scalar_type(), at::kFloat);
  const double error = (mixed.to(at::kFloat) - reference).abs().max().item<double>() /
                       reference.abs().max().item<double>();
  EXPECT_LT(error, 0.05);  // bf16 keeps 8 bits of mantissa: ~0.4% per rounding
  EXPECT_GT(error, 0.0);   // and it did round
  mixed.to(at::kFloat).sum().backward();
  for (const auto& p : backbone->named_parameters()) {
    if (p.key().rfind("fc.", 0) == 0) continue;  // torchvision's fc: not on the feature path
    EXPECT_EQ(p.value().scalar_type(), at::kFloat) << p.key();
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_EQ(p.value().grad().scalar_type(), at::kFloat) << p.key();
  }
  {
    AutocastScope off(c10::Device(c10::kCPU), /*enabled=*/false);
    EXPECT_EQ(torch::mm(torch::ones({2, 2}), torch::ones({2, 2})).scalar_type(), at::kFloat);
  }
}

TEST(ResNet, ParameterCountsMatchTorchvision) {
  ResNet r18(ResNetSpec::ResNet18());
  ResNet r50(ResNetSpec::ResNet50());
  EXPECT_EQ(ParameterCount(r18), 11689512);  // torchvision.models.resnet18()
  EXPECT_EQ(ParameterCount(r50), 25557032);  // torchvision.models.resnet50()
  EXPECT_EQ(r18->feature_dim(), 512);
  EXPECT_EQ(r50->feature_dim(), 2048);
}

TEST(ResNet, KeysFollowTorchvisionNames) {
  ResNet r18(ResNetSpec::ResNet18());
  const auto params = r18->named_parameters();
  const auto buffers = r18->named_buffers();
  for (const char* key : {"conv1.weight", "bn1.weight", "layer1.0.conv1.weight",
                          "layer2.0.downsample.0.weight", "layer4.1.bn2.bias", "fc.weight"}) {
    EXPECT_TRUE(params.contains(key)) << key;
  }
  for (const char* key : {"bn1.running_mean", "layer2.0.downsample.1.running_var",
                          "layer3.1.bn1.num_batches_tracked"}) {
    EXPECT_TRUE(buffers.contains(key)) << key;
  }
}

TEST(ResNet, SmallVariantTakes28x28GreyImages) {
  ResNet small(ResNetSpec::Small());
  const at::Tensor features = small->Features(torch::randn({4, 1, 28, 28}));
  EXPECT_EQ(features.sizes(), (at::IntArrayRef{4, 128}));
  ResNetSpec spec;
  const Status bad = ResNetSpec::FromName("resnet19", &spec);
  EXPECT_EQ(bad.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(bad.message().find("resnet19"), std::string::npos);
}

class TorchvisionRoundTrip : public ::testing::TestWithParam<const char*> {};

TEST_P(TorchvisionRoundTrip, ExportLoadsStrictlyAndGivesTheSameOutputs) {
  const std::string arch = GetParam();
  ResNetSpec spec;
  ASSERT_TRUE(ResNetSpec::FromName(arch, &spec).ok());
  torch::manual_seed(3);
  ResNet model(spec);
  // A training-mode pass moves the BN running statistics off their initial values, so the
  // comparison covers buffers too.
  model->train();
  model->forward(torch::randn({4, 3, 64, 64}));
  model->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor input = torch::randn({2, 3, 64, 64});
  const at::Tensor output = model->forward(input);

  const std::string base = "/tmp/mw_export_" + arch + "_" + std::to_string(getpid());
  ASSERT_TRUE(ExportStateDict(*model, base + ".pt").ok());
  c10::Dict<std::string, at::Tensor> io;
  io.insert("input", input);
  io.insert("output", output);
  const std::vector<char> bytes = torch::pickle_save(io);
  std::ofstream(base + ".io", std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));

  const std::string cmd = "/usr/bin/python3 " MW_SOURCE_DIR "/tests/torchvision_check.py " + arch +
                          " " + base + ".pt " + base + ".io";
  const int rc = std::system(cmd.c_str());
  std::remove((base + ".pt").c_str());
  std::remove((base + ".io").c_str());
  EXPECT_EQ(rc, 0) << cmd;
}

INSTANTIATE_TEST_SUITE_P(Backbones, TorchvisionRoundTrip,
                         ::testing::Values("resnet18", "resnet50"));

}  // namespace
}  // namespace mw
