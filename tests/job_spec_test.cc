// Job specs: defaults, each invalid field named, syntax errors located, YAML read as JSON;
// and `mwctl train` end to end on a small subset with real processes.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/capacity_plan.h"
#include "common/process_group.h"
#include "common/yaml_to_json.h"
#include "worker/classifier/classifier_memory.h"
#include "worker/training/job_spec.h"

namespace mw {
namespace {

void ExpectInvalid(const std::string& text, const std::string& what) {
  JobSpec spec;
  const Status s = ParseJobSpec(text, "spec.json", &spec);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << text;
  EXPECT_NE(s.message().find(what), std::string::npos) << s.message();
  EXPECT_EQ(s.message().rfind("spec.json", 0), 0u) << s.message();
}

TEST(JobSpec, EmptySpecTakesThePapersDefaults) {
  JobSpec spec;
  ASSERT_TRUE(ParseJobSpec("{}", "spec.json", &spec).ok());
  EXPECT_EQ(spec.trainer.classifier.dim, 128);
  EXPECT_DOUBLE_EQ(spec.trainer.classifier.temperature, 0.15);
  EXPECT_EQ(spec.trainer.classifier.top_k, 100);
  EXPECT_DOUBLE_EQ(spec.trainer.classifier.smoothing, 0.2);
  EXPECT_DOUBLE_EQ(spec.trainer.momentum, 0.9);
  EXPECT_DOUBLE_EQ(spec.trainer.weight_decay, 1e-4);
  spec.trainer.local_batch = 1024;  // x 2 views x 2 ranks = 4096 samples
  spec.ResolveLearningRates(2);
  EXPECT_DOUBLE_EQ(spec.trainer.lr, 0.48);
  EXPECT_DOUBLE_EQ(spec.trainer.classifier_lr, 0.48);
}

TEST(JobSpec, EveryNumberIsBoundedAndFieldsFollowTheDataset) {
  ExpectInvalid(R"({"dim": 1000000})", "dim: 1000000 must be in [1, 4096]");
  ExpectInvalid(R"({"hidden_dim": 9223372036854775807})", "hidden_dim");
  ExpectInvalid(R"({"local_batch": 18446744073709551615})",
                "local_batch: 18446744073709551615 must be in [1, 65536]");
  ExpectInvalid(R"({"epochs": 1000001})", "epochs");
  ExpectInvalid(R"({"top_k": 100000})", "top_k");
  ExpectInvalid(R"({"image_size": 100000})", "image_size");
  ExpectInvalid(R"({"loader_threads": 100000})", "loader_threads");
  ExpectInvalid(R"({"dataset": "synthetic", "synthetic_size": 4294967296})", "synthetic_size");
  ExpectInvalid(R"({"lr": 1e300})", "lr: must be in (0, 1000]");
  ExpectInvalid(R"({"weight_decay": -1})", "weight_decay");
  ExpectInvalid(R"({"synthetic_size": 10})", "synthetic_size: applies to dataset synthetic only");
  ExpectInvalid(R"({"dataset": "synthetic", "train_dir": "/data"})",
                "train_dir: applies to dataset image-folder only");
  ExpectInvalid(R"({"fine_tune_fractions": [0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,
                  0.1,0.1,0.1,0.1,0.1]})",
                "fine_tune_fractions");
  ExpectInvalid("{\"train_subset\": 1, \"backbone\": \"" + std::string(5000, 'x') + "\"}",
                "backbone: longer than 4096 bytes");
  JobSpec spec;  // the largest of each still parses
  ASSERT_TRUE(ParseJobSpec(R"({"dataset": "synthetic", "synthetic_size": 14200000, "dim": 4096,
      "local_batch": 65536, "epochs": 100000, "top_k": 4096})",
                           "spec.json", &spec)
                  .ok());
  spec.ResolveLearningRates(4096);
  EXPECT_TRUE(std::isfinite(spec.trainer.lr));
}

TEST(ClassifierMemory, ImageNet21KOnSixtyFourRanks) {
  ClassifierConfig c;  // the paper's: d = 128, k = 100; chunks of 1024, 1 GiB of logit cache
  c.num_classes = 14200000;
  const ClassifierMemory m = EstimateClassifierMemory(c, 64, 4096);
  EXPECT_EQ(m.rows, 221875);
  EXPECT_EQ(m.weights, 221875LL * 128 * 4);  // 114 MB
  EXPECT_EQ(m.momentum, m.weights);
  EXPECT_EQ(m.neighbors, 221875LL * 100 * 4);  // int32 ids
  EXPECT_EQ(m.routed_neighbors, m.neighbors);
  EXPECT_EQ(m.refresh, 3 * 221875LL * 100 * 12 + 3 * m.weights);
  EXPECT_EQ(m.snapshot, 2 * m.weights + m.neighbors);  // a checkpoint's copy, mid-epoch
  EXPECT_EQ(m.host(), 2 * m.neighbors + m.refresh + m.snapshot);
  EXPECT_EQ(m.logits, 2LL * 4096 * 1024 * 4 + (1LL << 30));  // a block, its gradient, cache
  c.logit_cache_bytes = -1;  // every block kept: B x |C_r|, the paper's 3.6 GB
  EXPECT_EQ(EstimateClassifierMemory(c, 64, 4096).logits,
            2LL * 4096 * 1024 * 4 + 4096LL * 221875 * 4);
  c.smoothing = 0;  // no top-k table at all
  const ClassifierMemory plain = EstimateClassifierMemory(c, 64, 4096);
  EXPECT_EQ(plain.neighbors + plain.routed_neighbors + plain.refresh, 0);
  EXPECT_EQ(plain.snapshot, 2 * plain.weights);
}

TEST(JobSpec, EachInvalidFieldIsNamed) {
  ExpectInvalid(R"({"epochs": 0})", "epochs: 0 must be in [1, 100000]");
  ExpectInvalid(R"({"epochs": "two"})", "epochs: must be an integer");
  ExpectInvalid(R"({"max_steps_per_epoch": -1})",
                "max_steps_per_epoch: -1 must be in [0, 2147483647]");
  ExpectInvalid(R"({"evaluation_subset": -1})", "evaluation_subset: -1 must be in [0, 2147483647]");
  ExpectInvalid(R"({"checkpoint_every_steps": -5})",
                "checkpoint_every_steps: -5 must be in [0, 2147483647]");
  ExpectInvalid(R"({"smoothing": 1.5})", "smoothing = 1.5");
  ExpectInvalid(R"({"temperature": 0})", "temperature = 0");
  ExpectInvalid(R"({"backbone": "vgg"})", "backbone: 'vgg'");
  ExpectInvalid(R"({"dataset": "cifar"})", "dataset: 'cifar'");
  ExpectInvalid(R"({"lr": -1})", "lr: must be in (0, 1000]");
  ExpectInvalid(R"({"warmup_epochs": 3, "epochs": 2})", "warmup_epochs: 3 must be <= epochs");
  ExpectInvalid(R"({"colour": 1})", "colour: is not a job spec field");
  ExpectInvalid("{\n  \"epochs\": 2,\n  \"lr\" 0.1\n}", "spec.json:3:");
  ExpectInvalid("[1, 2]", "must be a JSON object");
  ExpectInvalid(R"({"prior": "uniform"})", "prior: 'uniform' is not one of");
  ExpectInvalid("7388e388", "number overflow");  // found by job_spec_fuzzer
  ExpectInvalid(R"({"augmentation": {"mean": [1e300], "std": [1]}})", "within +-1e6");
  ExpectInvalid(R"({"dataset": "image-folder"})", "train_dir: is required");
  ExpectInvalid(R"({"augmentation": {"crop_scale_min": 0}})", "augmentation.crop_scale_min = 0");
  ExpectInvalid(R"({"augmentation": {"blurr": 1}})", "augmentation.blurr: is not a job spec field");
  ExpectInvalid(R"({"augmentation": {"mean": [0.5], "std": []}})",
                "augmentation: std: must be a list");
  ExpectInvalid(R"({"fine_tune_fractions": [0.01, 2]})", "fine_tune_fractions: every entry");
  ExpectInvalid(R"({"loader_threads": 0})", "loader_threads: 0 must be in [1, 256]");
  ExpectInvalid(R"({"evaluate_every_epoch": 1})", "evaluate_every_epoch: must be true or false");
}

TEST(JobSpec, DevicePrecisionAndSamplingAreParsedAndRefusedByName) {
  JobSpec spec;
  ASSERT_TRUE(
      ParseJobSpec(R"({"device": "cuda:3", "precision": "bf16"})", "spec.json", &spec).ok());
  EXPECT_EQ(spec.trainer.classifier.device, (DeviceSpec{true, 3}));
  EXPECT_EQ(spec.trainer.classifier.precision, Precision::kBfloat16);
  ASSERT_TRUE(ParseJobSpec(R"({"device": "cuda"})", "spec.json", &spec).ok());
  EXPECT_EQ(spec.trainer.classifier.device, (DeviceSpec{true, -1}));
  EXPECT_EQ(BindGpu(spec.trainer.classifier.device, 5), (DeviceSpec{true, 5}));
  EXPECT_EQ(BindGpu(DeviceSpec{true, 2}, 5), (DeviceSpec{true, 2}));  // a named ordinal stays
  EXPECT_EQ(BindGpu(DeviceSpec{}, 5), DeviceSpec{});
  ASSERT_TRUE(ParseJobSpec("{}", "spec.json", &spec).ok());
  EXPECT_EQ(spec.trainer.classifier.device.ToString(), "cpu");
  EXPECT_EQ(spec.trainer.classifier.precision, Precision::kFloat32);
  ExpectInvalid(R"({"device": "gpu"})", "device 'gpu' is not one of: cpu, cuda, cuda:N");
  ExpectInvalid(R"({"device": "cuda:"})", "device 'cuda:'");
  ExpectInvalid(R"({"device": "cuda:-1"})", "device 'cuda:-1'");
  ExpectInvalid(R"({"device": "cuda:99999"})", "device 'cuda:99999'");
  ExpectInvalid(R"({"device": "cuda:1x"})", "device 'cuda:1x'");
  ExpectInvalid(R"({"device": 0})", "device: must be a string");
  ExpectInvalid(R"({"precision": "fp16"})", "precision 'fp16' is not one of: fp32, bf16, fp64");
  ExpectInvalid(R"({"precision": "fp64", "device": "cuda"})",
                "precision = fp64 runs on the CPU only");
  ASSERT_TRUE(ParseJobSpec(R"({"evaluation_subset": 50000})", "spec.json", &spec).ok());
  EXPECT_EQ(spec.evaluation_subset, 50000);
  ASSERT_TRUE(ParseJobSpec(R"({"checkpoint_every_steps": 500})", "spec.json", &spec).ok());
  EXPECT_EQ(spec.checkpoint_every_steps, 500);
  ASSERT_TRUE(ParseJobSpec(R"({"sampled_classes": 16384})", "spec.json", &spec).ok());
  EXPECT_EQ(spec.trainer.classifier.sampled_classes, 16384);
  ExpectInvalid(R"({"sampled_classes": -1})", "sampled_classes: -1 must be in");
}

TEST(ClassifierMemory, Bf16HalvesTheLogitsNotTheRows) {
  ClassifierConfig c;
  c.num_classes = 1775000;  // ImageNet-21K's share of one of 8 GPUs
  c.chunk_rows = 8192;
  c.logit_cache_bytes = -1;
  const ClassifierMemory fp32 = EstimateClassifierMemory(c, 1, 4096);
  c.precision = Precision::kBfloat16;
  const ClassifierMemory bf16 = EstimateClassifierMemory(c, 1, 4096);
  EXPECT_EQ(bf16.weights, fp32.weights);  // fp32 master rows
  EXPECT_EQ(bf16.momentum, fp32.momentum);
  EXPECT_EQ(bf16.logits, fp32.logits / 2);
  EXPECT_EQ(bf16.logits, 2LL * 4096 * 8192 * 2 + 4096LL * 1775000 * 2);
}

TEST(ClassifierMemory, TheRefreshCountsWhatItAllocates) {
  ClassifierConfig c;
  c.num_classes = 1000000;
  const int64_t candidates = 100 * 12;  // k x (float score + int64 id) per row
  // Alone: the running top-k and the rank's normalised rows; no ring, no candidates to trade.
  const ClassifierMemory one = EstimateClassifierMemory(c, 1, 4096);
  EXPECT_EQ(one.refresh, 1000000 * candidates + one.weights);
  // In a ring: one visit's candidates out and one in, the visiting shard and the next.
  const ClassifierMemory four = EstimateClassifierMemory(c, 4, 4096);
  EXPECT_EQ(four.refresh, 3 * 250000 * candidates + 3 * four.weights);
  // On a GPU the refresh works on a host copy of the rows as well.
  c.device = DeviceSpec{true, 0};
  EXPECT_EQ(EstimateClassifierMemory(c, 4, 4096).refresh, four.refresh + four.weights);
  // Alone with a wide table and narrow rows, routing the table (four int32 copies) is more.
  c.device = DeviceSpec{};
  c.top_k = 400;
  c.dim = 16;
  EXPECT_EQ(EstimateClassifierMemory(c, 1, 4096).refresh, 4 * 1000000LL * 400 * 4);
}

TEST(JobSpec, YamlReadsAsTheSameJson) {
  std::string from_yaml, from_json;
  ASSERT_TRUE(ReadJobSpecFile(MW_SOURCE_DIR "/examples/fashion-mnist.yaml", &from_yaml).ok());
  ASSERT_TRUE(ReadJobSpecFile(MW_SOURCE_DIR "/examples/fashion-mnist.json", &from_json).ok());
  EXPECT_EQ(nlohmann::json::parse(from_yaml), nlohmann::json::parse(from_json)) << from_yaml;

  std::string json;
  ASSERT_TRUE(YamlToJson("a: [1, -2.5e3, +7]\nb: '12'\nc: ~\nd: True\ne: hello\n"
                         "f: {g: &x 1, h: *x}\n",
                         "s.yaml", &json)
                  .ok());
  EXPECT_EQ(nlohmann::json::parse(json), nlohmann::json::parse(R"({"a": [1, -2500.0, 7],
    "b": "12", "c": null, "d": true, "e": "hello", "f": {"g": 1, "h": 1}})"));
  // A quoted number stays a string, which the spec refuses by name.
  ASSERT_TRUE(YamlToJson("epochs: '3'\n", "s.yaml", &json).ok());
  ExpectInvalid(json, "epochs");

  const auto expect_error = [](const std::string& yaml, const std::string& where) {
    std::string out;
    const Status s = YamlToJson(yaml, "s.yaml", &out);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << yaml;
    EXPECT_EQ(s.message().rfind(where, 0), 0u) << s.message();
  };
  expect_error("epochs: 2\ntop_k: [1, 2\nlr: 0.1\n", "s.yaml:3:");
  expect_error("epochs: 2\nepochs: 3\n", "s.yaml:2: duplicate key 'epochs'");
  expect_error("lr: .inf\n", "s.yaml:1: '.inf' has no JSON equivalent");
  expect_error("a: 1\nlr: 11E1111\n", "s.yaml:2: '11E1111' is out of range");  // found by fuzzing
  expect_error("", "s.yaml: the YAML document is empty");
  expect_error("a: 1\n---\nb: 2\n", "s.yaml: holds more than one YAML document");
  expect_error("? [1]\n: 2\n", "s.yaml:1: a key must be a plain string");
  std::string laughs = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 8; ++i) {
    const std::string prev = "*a" + std::to_string(i - 1);
    laughs += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev + ", " + prev +
              ", " + prev + ", " + prev + ", " + prev + ", " + prev + ", " + prev + ", " + prev +
              ", " + prev + ", " + prev + "]\n";
  }
  expect_error(laughs, "s.yaml:");  // 10^8 values: refused, not expanded
}

TEST(Mwctl, TrainRunsALocalJobAndRefusesABadSpec) {
  const std::string dir = "/tmp/mw_mwctl_" + std::to_string(getpid());
  const std::string good = dir + "_good.json", bad = dir + "_bad.json";
  std::ofstream(good) << R"({"train_subset": 600, "test_subset": 300, "epochs": 1,
                             "local_batch": 50, "top_k": 10, "lr": 0.1, "classifier_lr": 1.0})";
  std::ofstream(bad) << R"({"top_k": 0})";
  const std::string mwctl = HelperPath("../bin/mwctl");
  const std::string out = dir + ".out";
  const int ok = std::system((mwctl + " train --workers 2 --spec " + good + " > " + out).c_str());
  const int refused = std::system((mwctl + " train --spec " + bad + " 2>/dev/null").c_str());
  std::ifstream log(out);
  const std::string printed((std::istreambuf_iterator<char>(log)),
                            std::istreambuf_iterator<char>());
  std::remove(good.c_str());
  std::remove(bad.c_str());
  std::remove(out.c_str());
  EXPECT_EQ(WEXITSTATUS(ok), 0) << printed;
  EXPECT_NE(printed.find("eval 1: knn "), std::string::npos) << printed;
  EXPECT_EQ(WEXITSTATUS(refused), 2);
}

TEST(Mwctl, AnErrorNamesTheServiceItCouldNotReachAndItsFlag) {
  const std::string mwctl = HelperPath("../bin/mwctl");
  const std::string err = "/tmp/mw_mwctl_err_" + std::to_string(getpid());
  const auto stderr_of = [&](const std::string& args) {
    const int code = std::system((mwctl + " " + args + " 2> " + err).c_str());
    std::ifstream log(err);
    const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    std::remove(err.c_str());
    EXPECT_EQ(WEXITSTATUS(code), 1) << text;
    return text;
  };
  // Port 1 on loopback: nothing listens there.
  const std::string list = stderr_of("--coordinator 127.0.0.1:1 list");
  EXPECT_NE(list.find("cannot reach the coordinator at 127.0.0.1:1 (set with --coordinator or "
                      "MW_COORDINATOR)"),
            std::string::npos)
      << list;
  const std::string exported = stderr_of(
      "--coordinator 127.0.0.1:1 export job-1 --output /tmp/unused.pt --shard-server 127.0.0.1:2");
  EXPECT_NE(exported.find("the coordinator at 127.0.0.1:1"), std::string::npos) << exported;
}

// The sizing in docs/deploy.md: ImageNet-21K on 64 workers and 8 shard servers.
TEST(CapacityPlan, SizesTheClassifierAndTheShardServersDisks) {
  JobSpec spec;
  ASSERT_TRUE(ParseJobSpec(R"({"dataset": "image-folder", "train_dir": "/data/train",
      "test_dir": "/data/val", "local_batch": 64, "dim": 128, "top_k": 100})",
                           "spec", &spec)
                  .ok());
  CapacityPlanOptions options;
  options.workers = 64;
  options.shard_servers = 8;
  std::string plan;
  EXPECT_EQ(CapacityPlan(spec, options, &plan).code(), Status::Code::kInvalidArgument);
  options.instances = 14197122;
  ASSERT_TRUE(CapacityPlan(spec, options, &plan).ok());
  // 14197122 x 128 x 4 B x 2 (weights, momentum) = 14.54 GB; 3 of them over 8 servers.
  EXPECT_NE(plan.find("221831 rows"), std::string::npos) << plan;
  EXPECT_NE(plan.find("momentum: 14.54 GB"), std::string::npos) << plan;
  EXPECT_NE(plan.find("= 5.45 GB"), std::string::npos) << plan;
  // A checkpoint's host copy: 221831 x (128 x 4 B x 2 + 100 x 4 B) = 0.29 GiB.
  EXPECT_NE(plan.find("checkpoint snapshot 0.29"), std::string::npos) << plan;
  // The refresh: 3 x 221831 x 100 x 12 B of candidates + 3 x 221831 x 128 x 4 B of shards.
  EXPECT_NE(plan.find("its refresh 1.06"), std::string::npos) << plan;
}

}  // namespace
}  // namespace mw
