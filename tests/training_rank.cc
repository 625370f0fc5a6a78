// One rank of the training test (launched twice by training_test): a real run on the first
// 2,000 Fashion-MNIST training images, checked against the same network at initialisation.
// The loss must fall from the first epoch to the last, and the kNN accuracy (k = 200) on the
// first 1,000 test images must beat the random-init network's.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstdio>
#include <memory>

#include "tests/support/check.h"
#include "worker/comm/gloo_communicator.h"
#include "worker/training/knn_monitor.h"
#include "worker/training/trainer.h"

namespace mw {
namespace {

at::Tensor Labels(const GreyImages& images) {
  return at::tensor(images.labels, at::TensorOptions().dtype(at::kLong));
}

}  // namespace
}  // namespace mw

int main() {
  at::set_num_threads(1);
  mw::GlooOptions options;
  MW_CHECK_OK(mw::GlooOptionsFromEnvironment(&options));
  std::unique_ptr<mw::Communicator> comm;
  MW_CHECK_OK(mw::GlooCommunicator::Create(options, &comm));

  mw::GreyImages train_all, test_all;
  MW_CHECK_OK(mw::LoadFashionMnist(mw::kFashionMnistDir, mw::Split::kTrain, &train_all));
  MW_CHECK_OK(mw::LoadFashionMnist(mw::kFashionMnistDir, mw::Split::kTest, &test_all));
  const mw::GreyImages train = mw::FirstImages(std::move(train_all), 2000);
  const mw::GreyImages test = mw::FirstImages(std::move(test_all), 1000);

  mw::TrainerConfig config;
  config.classifier.top_k = 10;
  config.local_batch = 50;
  config.epochs = 3;
  config.warmup_epochs = 1;
  std::unique_ptr<mw::Trainer> trainer;
  MW_CHECK_OK(mw::Trainer::Create(config, comm.get(), &train, &trainer));

  const mw::KnnOptions knn;
  const double random_knn =
      mw::KnnAccuracy(trainer->Features(train, train.count), mw::Labels(train),
                      trainer->Features(test, test.count), mw::Labels(test), knn);
  MW_CHECK_OK(trainer->InitializeFromPrior());
  std::vector<double> losses;
  for (int64_t epoch = 0; epoch < config.epochs; ++epoch) {
    MW_CHECK_OK(trainer->RefreshNeighbors(epoch));
    double loss = 0;
    MW_CHECK_OK(trainer->TrainEpoch(epoch, 0, &loss));
    losses.push_back(loss);
    if (comm->rank() == 0)
      std::fprintf(stderr, "epoch %lld: mean loss %.4f\n", static_cast<long long>(epoch), loss);
  }
  const double trained_knn =
      mw::KnnAccuracy(trainer->Features(train, train.count), mw::Labels(train),
                      trainer->Features(test, test.count), mw::Labels(test), knn);
  if (comm->rank() == 0) {
    std::fprintf(stderr, "kNN top-1: random init %.4f, trained %.4f\n", random_knn, trained_knn);
  }
  MW_CHECK(losses.back() < losses.front(), "loss did not fall: %.4f -> %.4f", losses.front(),
           losses.back());
  MW_CHECK(trained_knn > random_knn, "kNN %.4f does not beat random init %.4f", trained_knn,
           random_knn);
  return 0;
}
