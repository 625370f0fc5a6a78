// One rank of the training test (launched twice by training_test): a real run on the first
// 2,000 Fashion-MNIST training images, checked against the same network at initialisation.
// The loss must fall from the first epoch to the last, and the kNN accuracy (k = 200) on the
// first 1,000 test images must beat the random-init network's.
// MW_MODE=stop: one rank's stop flag (SIGTERM) goes up during a run of steps; every rank must
// stop after the same step, the one after the flag was seen.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/check.h"
#include "worker/comm/gloo_communicator.h"
#include "worker/data/in_memory_dataset.h"
#include "worker/training/evaluation.h"
#include "worker/training/fine_tuning.h"
#include "worker/training/trainer.h"

namespace {

int StopAtAStep(mw::Communicator* comm) {
  mw::GreyImages images;
  MW_CHECK_OK(mw::LoadFashionMnist(mw::kFashionMnistDir, mw::Split::kTrain, &images));
  const mw::InMemoryDataset train(mw::FirstImages(std::move(images), 400), "train");
  mw::TrainerConfig config;
  config.classifier.smoothing = 0;
  config.local_batch = 20;  // 400 images on 2 ranks: 10 steps per epoch
  std::unique_ptr<mw::Trainer> trainer;
  MW_CHECK_OK(mw::Trainer::Create(config, comm, &train, &trainer));
  MW_CHECK_OK(trainer->InitializeClassifier());
  std::atomic<bool> stop{false};
  std::vector<int64_t> steps;
  trainer->set_stop_flag(&stop);
  trainer->set_step_observer([&](const mw::StepStats& stats) {
    steps.push_back(stats.step);
    if (comm->rank() == 1 && stats.step == 3) stop = true;  // after step 3's votes
  });
  double loss = 0;
  int64_t stopped_at = -1;
  MW_CHECK_OK(trainer->TrainSteps(0, 0, 10, &loss, &stopped_at));
  MW_CHECK(stopped_at == 5, "rank %d stopped at step %lld, not 5", comm->rank(),
           static_cast<long long>(stopped_at));
  stop = false;
  MW_CHECK_OK(trainer->TrainSteps(0, stopped_at, 10, &loss, &stopped_at));
  MW_CHECK(stopped_at == 0, "rank %d stopped at %lld with no flag up", comm->rank(),
           static_cast<long long>(stopped_at));
  const std::vector<int64_t> expected = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  MW_CHECK(steps == expected, "rank %d ran %zu steps, not each of 0..9 once", comm->rank(),
           steps.size());
  return 0;
}

}  // namespace

int main() {
  at::set_num_threads(1);
  mw::GangOptions options;
  MW_CHECK_OK(mw::GangOptionsFromEnvironment(&options));
  std::unique_ptr<mw::Communicator> comm;
  MW_CHECK_OK(mw::GlooCommunicator::Create(options, &comm));
  const char* mode = std::getenv("MW_MODE");
  if (mode != nullptr && std::string(mode) == "stop") return StopAtAStep(comm.get());

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
