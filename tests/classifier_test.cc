// The classifier: argument checks in process, and equivalence with a dense float64
// reference across 1-4 real processes on loopback (classifier_rank does the work).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <vector>

#include "common/process_group.h"
#include "worker/classifier/classifier.h"
#include "worker/classifier/sampled_classifier.h"
#include "worker/comm/gang_communicator.h"
#include "worker/comm/gloo_communicator.h"
#include "worker/comm/torch_device.h"

namespace mw {
namespace {

ClassifierConfig SmallConfig() {
  ClassifierConfig config;
  config.num_classes = 37;
  config.dim = 8;
  config.top_k = 3;
  return config;
}

// A Gloo gang of this process alone; null (and a failure) if it cannot be made.
std::unique_ptr<Communicator> GangOfOne() {
  GangOptions options;
  options.store_port = FreeLoopbackPort();
  std::unique_ptr<Communicator> comm;
  const Status made = GlooCommunicator::Create(options, &comm);
  EXPECT_TRUE(made.ok()) << made.ToString();
  return comm;
}

void ExpectInvalid(const Status& status, const std::string& field, const std::string& value) {
  EXPECT_EQ(status.code(), Status::Code::kInvalidArgument) << status.ToString();
  EXPECT_NE(status.message().find(field), std::string::npos) << status.message();
  EXPECT_NE(status.message().find(value), std::string::npos) << status.message();
}

TEST(ClassifierConfig, PaperDefaultsAreValid) {
  ClassifierConfig config;
  config.num_classes = 1000;
  EXPECT_EQ(config.dim, 128);
  EXPECT_DOUBLE_EQ(config.temperature, 0.15);
  EXPECT_EQ(config.top_k, 100);
  EXPECT_DOUBLE_EQ(config.smoothing, 0.2);
  EXPECT_TRUE(config.Validate(4).ok());
}

TEST(ClassifierConfig, BadArgumentsNameTheArgumentAndValue) {
  ClassifierConfig c = SmallConfig();
  ExpectInvalid(c.Validate(40), "num_classes", "37");
  c = SmallConfig();
  c.top_k = 37;
  ExpectInvalid(c.Validate(2), "top_k", "37");
  c = SmallConfig();
  c.smoothing = 1.0;
  ExpectInvalid(c.Validate(2), "smoothing", "1");
  c.smoothing = -0.1;
  ExpectInvalid(c.Validate(2), "smoothing", "-0.1");
  c = SmallConfig();
  c.temperature = 0;
  ExpectInvalid(c.Validate(2), "temperature", "0");
  c.temperature = -1;
  ExpectInvalid(c.Validate(2), "temperature", "-1");
  c = SmallConfig();
  c.chunk_rows = -3;
  ExpectInvalid(c.Validate(2), "chunk_rows", "-3");
  c = SmallConfig();
  c.logit_cache_bytes = -2;
  ExpectInvalid(c.Validate(2), "logit_cache_bytes", "-2");
  c = SmallConfig();
  c.top_k = 0;
  ExpectInvalid(c.Validate(2), "top_k", "0");
  c = SmallConfig();
  c.sampled_classes = 38;
  ExpectInvalid(c.Validate(2), "sampled_classes", "38");
  c.sampled_classes = -1;
  ExpectInvalid(c.Validate(2), "sampled_classes", "-1");
}

TEST(ClassifierInputs, BadInputsNameTheArgumentAndValue) {
  const ClassifierConfig c = SmallConfig();
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  const auto i64 = at::TensorOptions().dtype(at::kLong);
  at::Tensor ids = at::arange(4, i64);
  at::Tensor neighbors = (ids.unsqueeze(1) + at::arange(1, 4, i64).unsqueeze(0)).contiguous();
  at::Tensor features = at::randn({4, 8}, f32);
  EXPECT_TRUE(ValidateStepInputs(c, features, ids, neighbors).ok());

  ExpectInvalid(ValidateStepInputs(c, at::randn({4, 7}, f32), ids, neighbors), "features width",
                "7");
  at::Tensor bad_ids = ids.clone();
  bad_ids[2] = 37;
  ExpectInvalid(ValidateStepInputs(c, features, bad_ids, neighbors), "ids[2]", "37");
  bad_ids[2] = -1;
  ExpectInvalid(ValidateStepInputs(c, features, bad_ids, neighbors), "ids[2]", "-1");
  at::Tensor bad_neighbors = neighbors.clone();
  bad_neighbors[1][2] = 99;
  ExpectInvalid(ValidateStepInputs(c, features, ids, bad_neighbors), "neighbors[1][2]", "99");
  bad_neighbors = neighbors.clone();
  bad_neighbors[3][0] = 3;
  ExpectInvalid(ValidateStepInputs(c, features, ids, bad_neighbors), "neighbors[3][0]", "ids[3]");
  ExpectInvalid(ValidateStepInputs(c, features, ids, neighbors.narrow(1, 0, 2)), "neighbors",
                "top_k = 3");
  ExpectInvalid(ValidateStepInputs(c, features.to(at::kDouble), ids, neighbors), "features dtype",
                "Double");
}

TEST(Classifier, CreateRejectsAnInvalidConfig) {
  const std::unique_ptr<Communicator> comm = GangOfOne();
  ASSERT_NE(comm, nullptr);
  ClassifierConfig c = SmallConfig();
  c.num_classes = 0;
  std::unique_ptr<Classifier> classifier;
  ExpectInvalid(Classifier::Create(ClassifierLayout::kSharded, c, comm.get(), &classifier),
                "num_classes", "0");
  EXPECT_EQ(classifier, nullptr);
  c = SmallConfig();
  c.sampled_classes = 5;  // sampling is a mode of the sharded layout
  ExpectInvalid(Classifier::Create(ClassifierLayout::kReplicated, c, comm.get(), &classifier),
                "sampled_classes", "5");
  EXPECT_EQ(classifier, nullptr);
  c.device = DeviceSpec{true, 0};  // Debian's LibTorch has no CUDA: refused, naming the device
  const Status on_gpu = Classifier::Create(ClassifierLayout::kSharded, c, comm.get(), &classifier);
  if (!BuiltWithCuda()) {
    EXPECT_EQ(on_gpu.code(), Status::Code::kFailedPrecondition) << on_gpu.ToString();
    EXPECT_NE(on_gpu.message().find("device cuda:0"), std::string::npos) << on_gpu.message();
    EXPECT_EQ(classifier, nullptr);
  }
}

TEST(SampledClasses, DrawDistinctIsUniformDistinctAndSeeded) {
  EXPECT_EQ(DrawDistinct(7, 10, 10), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_TRUE(DrawDistinct(7, 10, 0).empty());
  // 14.2M rows, as a rank of an ImageNet-21K job would hold: the draw costs m, not n.
  const std::vector<int64_t> big = DrawDistinct(1, 14200000, 1000);
  ASSERT_EQ(big.size(), 1000u);
  EXPECT_TRUE(std::adjacent_find(big.begin(), big.end(), std::greater_equal<int64_t>()) ==
              big.end());  // strictly ascending, so distinct
  EXPECT_GE(big.front(), 0);
  EXPECT_LT(big.back(), 14200000);
  EXPECT_EQ(DrawDistinct(1, 14200000, 1000), big);
  EXPECT_NE(DrawDistinct(2, 14200000, 1000), big);
  // Uniform: over 20,000 draws of 10 of 100 each value comes up ~2,000 times (binomial,
  // sd ~42); the bounds are 7 sd, and the draws are seeded, so the check cannot flake.
  std::vector<int> counts(100);
  for (uint64_t seed = 0; seed < 20000; ++seed) {
    for (int64_t v : DrawDistinct(seed, 100, 10)) ++counts[static_cast<size_t>(v)];
  }
  for (int v = 0; v < 100; ++v) {
    EXPECT_GT(counts[v], 1700) << v;
    EXPECT_LT(counts[v], 2300) << v;
  }
}

TEST(SampledClasses, AStepDrawsWhatItsPositionSays) {
  const std::unique_ptr<Communicator> comm = GangOfOne();
  ASSERT_NE(comm, nullptr);
  ClassifierConfig c = SmallConfig();
  c.num_classes = 1000;
  c.smoothing = 0;
  c.sampled_classes = 20;
  std::unique_ptr<Classifier> classifier;
  ASSERT_TRUE(Classifier::Create(ClassifierLayout::kSharded, c, comm.get(), &classifier).ok());
  auto& sampled = dynamic_cast<SampledClassifier&>(*classifier);
  const at::Tensor features = at::randn({4, c.dim});
  const at::Tensor ids = at::arange(4, at::TensorOptions().dtype(at::kLong));
  const auto classes_at = [&](int64_t epoch, int64_t step) {
    sampled.set_position(epoch, step);
    StepResult result;
    EXPECT_TRUE(sampled.Step(features, ids, at::Tensor(), 0.1, &result).ok());
    return sampled.last_classes();
  };
  const at::Tensor first = classes_at(3, 17);
  EXPECT_GE(first.size(0), 20);  // the batch's 4 classes and 20 drawn, which may overlap
  EXPECT_LE(first.size(0), 24);
  const at::Tensor next = classes_at(3, 18);
  EXPECT_FALSE(at::equal(first, next));
  // A resumed job sets the position it resumed at and draws what it drew before.
  EXPECT_TRUE(at::equal(classes_at(3, 17), first));
  // Without a new position the next step moves on by itself.
  EXPECT_TRUE(at::equal(sampled.last_classes(), first));
  StepResult result;
  ASSERT_TRUE(sampled.Step(features, ids, at::Tensor(), 0.1, &result).ok());
  EXPECT_TRUE(at::equal(sampled.last_classes(), next));
}

struct Layout {
  int world_size;
  const char* precision;
};

void PrintTo(const Layout& layout, std::ostream* os) {
  *os << "W=" << layout.world_size << " " << layout.precision;
}

class DenseEquivalence : public ::testing::TestWithParam<Layout> {};

TEST_P(DenseEquivalence, LossGradientsAndTenStepsMatchFloat64Reference) {
  const Layout layout = GetParam();
  const auto exits = RunRanks(HelperPath("classifier_rank"), {}, layout.world_size,
                              {{"MW_PRECISION", layout.precision}}, std::chrono::seconds(300));
  EXPECT_TRUE(AllSucceeded(exits));
}

INSTANTIATE_TEST_SUITE_P(WorldSizesAndPrecisions, DenseEquivalence,
                         ::testing::Values(Layout{1, "f64"}, Layout{2, "f64"}, Layout{3, "f64"},
                                           Layout{4, "f64"}, Layout{1, "f32"}, Layout{2, "f32"},
                                           Layout{3, "f32"}, Layout{4, "f32"}, Layout{1, "bf16"},
                                           Layout{2, "bf16"}, Layout{3, "bf16"}),
                         [](const ::testing::TestParamInfo<Layout>& info) {
                           return "W" + std::to_string(info.param.world_size) + "_" +
                                  info.param.precision;
                         });

// The same cases with the classifier on a GPU (one rank per GPU, NCCL between them), against
// the float64 reference on the CPU. They need a CUDA LibTorch and a GPU; bench/gpu/run.sh runs
// them where there is one.
class DenseEquivalenceOnGpu : public ::testing::TestWithParam<const char*> {};

TEST_P(DenseEquivalenceOnGpu, LossGradientsAndTenStepsMatchFloat64Reference) {
  const Status usable = CheckDeviceAvailable(DeviceSpec{true, 0});
  if (!usable.ok()) GTEST_SKIP() << "no GPU to run on: " << usable.message();
  const int gpus = BuiltWithNccl() ? 2 : 1;
  for (int world_size = 1; world_size <= gpus; ++world_size) {
    if (world_size > 1 && !CheckDeviceAvailable(DeviceSpec{true, 1}).ok()) break;
    const auto exits =
        RunRanks(HelperPath("classifier_rank"), {}, world_size,
                 {{"MW_PRECISION", GetParam()}, {"MW_DEVICE", "cuda"}}, std::chrono::seconds(300));
    EXPECT_TRUE(AllSucceeded(exits)) << "W = " << world_size;
  }
}

INSTANTIATE_TEST_SUITE_P(Precisions, DenseEquivalenceOnGpu, ::testing::Values("f32", "bf16"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

}  // namespace
}  // namespace mw
