// mw_train_rank: one rank of a local training job (started W times by `mwctl train`). Reads
// the job spec, trains, and from rank 0 prints progress and the final kNN accuracy.
// Rank, world size and rendezvous come from MW_RANK, MW_WORLD_SIZE, MW_STORE_PORT.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "worker/comm/gloo_communicator.h"
#include "worker/training/job_spec.h"
#include "worker/training/knn_monitor.h"
#include "worker/training/trainer.h"

namespace mw {
namespace {

double Knn(Trainer& trainer, const GreyImages& train, const GreyImages& test) {
  const auto labels = [](const GreyImages& g) {
    return at::tensor(g.labels, at::TensorOptions().dtype(at::kLong));
  };
  return KnnAccuracy(trainer.Features(train, train.count), labels(train),
                     trainer.Features(test, test.count), labels(test), KnnOptions{});
}

Status Run(const std::string& spec_path) {
  JobSpec spec;
  MW_RETURN_IF_ERROR(LoadJobSpec(spec_path, &spec));
  GlooOptions options;
  options.timeout = std::chrono::minutes(10);
  MW_RETURN_IF_ERROR(GlooOptionsFromEnvironment(&options));
  std::unique_ptr<Communicator> comm;
  MW_RETURN_IF_ERROR(GlooCommunicator::Create(options, &comm));
  spec.ResolveLearningRates(comm->world_size());
  const bool lead = comm->rank() == 0;

  GreyImages train_all, test_all;
  MW_RETURN_IF_ERROR(LoadFashionMnist(kFashionMnistDir, Split::kTrain, &train_all));
  MW_RETURN_IF_ERROR(LoadFashionMnist(kFashionMnistDir, Split::kTest, &test_all));
  const GreyImages train = FirstImages(std::move(train_all), spec.train_subset);
  const GreyImages test = FirstImages(std::move(test_all), spec.test_subset);

  std::unique_ptr<Trainer> trainer;
  MW_RETURN_IF_ERROR(Trainer::Create(spec.trainer, comm.get(), &train, &trainer));
  const auto start = std::chrono::steady_clock::now();
  const auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  if (lead) {
    std::printf(
        "job: %lld train / %lld test images, %d ranks, %lld steps per epoch, lr %.4g, "
        "classifier lr %.4g\n",
        static_cast<long long>(train.count), static_cast<long long>(test.count), comm->world_size(),
        static_cast<long long>(trainer->steps_per_epoch()), spec.trainer.lr,
        spec.trainer.classifier_lr);
    std::printf("kNN top-1 of the random network: %.4f\n", Knn(*trainer, train, test));
    std::fflush(stdout);
  }
  MW_RETURN_IF_ERROR(trainer->InitializeFromPrior());
  for (int64_t epoch = 0; epoch < spec.trainer.epochs; ++epoch) {
    MW_RETURN_IF_ERROR(trainer->RefreshNeighbors(epoch));
    double loss = 0;
    MW_RETURN_IF_ERROR(trainer->TrainEpoch(epoch, 0, &loss));
    if (lead) {
      std::printf("epoch %lld/%lld: mean loss %.4f, %.0f s\n", static_cast<long long>(epoch + 1),
                  static_cast<long long>(spec.trainer.epochs), loss, elapsed());
      std::fflush(stdout);
    }
  }
  if (lead) {
    std::printf("kNN top-1 after training (k = 200, %lld test images): %.4f, %.0f s\n",
                static_cast<long long>(test.count), Knn(*trainer, train, test), elapsed());
    std::fflush(stdout);
  }
  return comm->Barrier();
}

}  // namespace
}  // namespace mw

int main(int argc, char** argv) {
  std::string spec;
  int threads = 1;
  CLI::App app{"One rank of a local millionway training job"};
  app.add_option("--spec", spec, "job spec (JSON)")->required();
  app.add_option("--threads", threads, "intra-op threads")->envname("MW_THREADS");
  CLI11_PARSE(app, argc, argv);
  at::set_num_threads(threads);
  const mw::Status status = mw::Run(spec);
  if (!status.ok()) {
    std::fprintf(stderr, "mw_train_rank: %s\n", status.ToString().c_str());
    return 2;
  }
  return 0;
}
