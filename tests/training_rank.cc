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
#include "worker/data/in_memory_dataset.h"
#include "worker/training/evaluation.h"
#include "worker/training/fine_tuning.h"
#include "worker/training/trainer.h"

int main() {
  at::set_num_threads(1);
  mw::GangOptions options;
  MW_CHECK_OK(mw::GangOptionsFromEnvironment(&options));
  std::unique_ptr<mw::Communicator> comm;
  MW_CHECK_OK(mw::GlooCommunicator::Create(options, &comm));

  mw::GreyImages train_all, test_all;
  MW_CHECK_OK(mw::LoadFashionMnist(mw::kFashionMnistDir, mw::Split::kTrain, &train_all));
  MW_CHECK_OK(mw::LoadFashionMnist(mw::kFashionMnistDir, mw::Split::kTest, &test_all));
  const mw::InMemoryDataset train(mw::FirstImages(std::move(train_all), 2000), "train");
  const mw::InMemoryDataset test(mw::FirstImages(std::move(test_all), 1000), "test");

  mw::TrainerConfig config;
  config.classifier.top_k = 10;
  config.local_batch = 50;
  config.epochs = 3;
  config.warmup_epochs = 1;
  config.loader_threads = 2;
  std::unique_ptr<mw::Trainer> trainer;
  MW_CHECK_OK(mw::Trainer::Create(config, comm.get(), &train, &trainer));

  mw::EvaluationOptions eval_options;
  eval_options.linear_probe = false;
  mw::Evaluation random_init, trained;
  MW_CHECK_OK(mw::Evaluate(*trainer, train, test, eval_options, &random_init));
  MW_CHECK_OK(trainer->InitializeClassifier());
  std::vector<double> losses;
  for (int64_t epoch = 0; epoch < config.epochs; ++epoch) {
    MW_CHECK_OK(trainer->RefreshNeighbors(epoch));
    double loss = 0;
    MW_CHECK_OK(trainer->TrainEpoch(epoch, 0, &loss));
    losses.push_back(loss);
    if (comm->rank() == 0)
      std::fprintf(stderr, "epoch %lld: mean loss %.4f\n", static_cast<long long>(epoch), loss);
  }
  MW_CHECK_OK(mw::Evaluate(*trainer, train, test, eval_options, &trained));
  if (comm->rank() == 0) {
    std::fprintf(stderr, "kNN top-1: random init %.4f, trained %.4f\n", random_init.knn_top1,
                 trained.knn_top1);
  }
  MW_CHECK(losses.back() < losses.front(), "loss did not fall: %.4f -> %.4f", losses.front(),
           losses.back());
  // Semi-supervised evaluation: 10% of the labels (200 images).
  mw::FineTuneOptions fine_tune;
  fine_tune.label_fraction = 0.1;
  fine_tune.epochs = 15;
  double fine_tuned = 0;
  MW_CHECK_OK(trainer->FineTune(train, test, fine_tune, &fine_tuned));
  if (comm->rank() == 0) std::fprintf(stderr, "fine-tuned on 10%%: top-1 %.4f\n", fine_tuned);
  MW_CHECK(fine_tuned > 0.4, "fine-tuning on 200 labels reached only %.4f", fine_tuned);
  MW_CHECK(trained.knn_top1 > random_init.knn_top1, "kNN %.4f does not beat random init %.4f",
           trained.knn_top1, random_init.knn_top1);
  return 0;
}
