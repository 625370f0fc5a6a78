// The quality benchmark's baselines on raw pixels: kNN (cosine, weighted, k = 200) and the
// linear probe, with the same code that scores the learned features.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "common/process_group.h"
#include "worker/comm/gloo_communicator.h"
#include "worker/data/fashion_mnist.h"
#include "worker/training/knn_monitor.h"
#include "worker/training/linear_probe.h"

int main(int argc, char** argv) {
  int threads = 2;
  int64_t train_subset = 0;
  CLI::App app{"Raw-pixel kNN and linear-probe baselines on Fashion-MNIST"};
  app.add_option("--threads", threads, "intra-op threads");
  app.add_option("--train-subset", train_subset, "first n training images; 0: all");
  CLI11_PARSE(app, argc, argv);
  at::set_num_threads(threads);
  mw::GreyImages train, test;
  for (auto [split, out] : {std::pair{mw::Split::kTrain, &train}, {mw::Split::kTest, &test}}) {
    const mw::Status s = mw::LoadFashionMnist(mw::kFashionMnistDir, split, out);
    if (!s.ok()) {
      std::fprintf(stderr, "raw_pixels: %s\n", s.ToString().c_str());
      return 2;
    }
  }
  train = mw::FirstImages(std::move(train), train_subset);
  const auto pixels = [](const mw::GreyImages& g) {
    return at::from_blob(const_cast<uint8_t*>(g.pixels.data()), {g.count, g.height * g.width},
                         at::kByte)
        .to(at::kFloat)
        .div(255.0);
  };
  const auto labels = [](const mw::GreyImages& g) {
    return at::tensor(g.labels, at::TensorOptions().dtype(at::kLong));
  };
  // The kNN monitor is collective: here over a gang of one.
  mw::GangOptions gang;
  gang.store_port = mw::FreeLoopbackPort();
  std::unique_ptr<mw::Communicator> comm;
  at::Tensor predicted;
  const auto start = std::chrono::steady_clock::now();
  mw::Status s = mw::GlooCommunicator::Create(gang, &comm);
  if (s.ok()) {
    s = mw::KnnPredict(*comm, pixels(train), labels(train), pixels(test), mw::KnnOptions{},
                       &predicted);
  }
  if (!s.ok()) {
    std::fprintf(stderr, "raw_pixels: %s\n", s.ToString().c_str());
    return 2;
  }
  const double knn = predicted.eq(labels(test)).to(at::kDouble).mean().item<double>();
  const double linear = mw::LinearProbeAccuracy(pixels(train), labels(train), pixels(test),
                                                labels(test), mw::LinearProbeOptions{});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("raw pixels: knn %.4f, linear %.4f, %.0f s\n", knn, linear, seconds);
  return 0;
}
