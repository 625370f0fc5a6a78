// mw_train_rank: one rank of a local training job (started W times by `mwctl train`). Reads
// the job spec, trains, evaluates, and from rank 0 prints progress and the accuracies.
// Rank, world size and rendezvous come from MW_RANK, MW_WORLD_SIZE, MW_STORE_PORT.
//
// Lines for scripts (bench/quality parses them) start with a keyword:
//   epoch E/N: loss L, T s training
//   eval E: knn K, linear P, T s training
//   fine-tune F: top1 A
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "common/tensor_heap.h"
#include "worker/comm/gang_communicator.h"
#include "worker/data/shards/object_store_flags.h"
#include "worker/training/evaluation.h"
#include "worker/training/fine_tuning.h"
#include "worker/training/job_spec.h"
#include "worker/training/trainer.h"

namespace mw {
namespace {

class Stopwatch {
 public:
  void Start() { begin_ = std::chrono::steady_clock::now(); }
  void Stop() { total_ += std::chrono::steady_clock::now() - begin_; }
  double seconds() const { return std::chrono::duration<double>(total_).count(); }

 private:
  std::chrono::steady_clock::time_point begin_;
  std::chrono::steady_clock::duration total_{};
};

Status Run(const std::string& spec_path, const ObjectStoreOptions& store) {
  JobSpec spec;
  MW_RETURN_IF_ERROR(LoadJobSpec(spec_path, &spec));
  GangOptions options;
  options.timeout = std::chrono::minutes(10);
  MW_RETURN_IF_ERROR(GangOptionsFromEnvironment(&options));
  // Ranks on one machine: rank r takes GPU r when the spec says "cuda".
  spec.trainer.classifier.device = BindGpu(spec.trainer.classifier.device, options.rank);
  std::unique_ptr<Communicator> comm;
  MW_RETURN_IF_ERROR(ConnectGang(options, spec.trainer.classifier.device, &comm));
  spec.ResolveLearningRates(comm->world_size());
  const bool lead = comm->rank() == 0;

  std::unique_ptr<Dataset> train, test;
  MW_RETURN_IF_ERROR(OpenDatasets(spec.data, spec.trainer.seed, store, &train, &test));
  std::unique_ptr<Trainer> trainer;
  MW_RETURN_IF_ERROR(Trainer::Create(spec.trainer, comm.get(), train.get(), &trainer));
  const bool evaluable = test != nullptr && train->num_labels() > 0 && test->num_labels() > 0;
  EvaluationOptions eval_options;
  eval_options.linear_probe = spec.linear_probe;
  eval_options.train_subset = spec.evaluation_subset;
  if (lead) {
    std::printf(
        "job: train on %s, evaluate on %s; %d ranks, %lld steps per epoch, lr %.4g, "
        "classifier lr %.4g\n",
        train->Describe().c_str(), evaluable ? test->Describe().c_str() : "nothing",
        comm->world_size(), static_cast<long long>(trainer->steps_per_epoch()), spec.trainer.lr,
        spec.trainer.classifier_lr);
    std::fflush(stdout);
  }
  Stopwatch training;
  const auto evaluate = [&](const char* when) -> Status {
    if (!evaluable) return Status::Ok();
    Evaluation result;
    MW_RETURN_IF_ERROR(Evaluate(*trainer, *train, *test, eval_options, &result));
    if (lead) {
      std::printf("eval %s: knn %.4f, linear %.4f, %.0f s training\n", when, result.knn_top1,
                  result.linear_top1, training.seconds());
      std::fflush(stdout);
    }
    return Status::Ok();
  };
  if (spec.evaluate_before_training) MW_RETURN_IF_ERROR(evaluate("random-init"));
  training.Start();
  MW_RETURN_IF_ERROR(trainer->InitializeClassifier());
  for (int64_t epoch = 0; epoch < spec.trainer.epochs; ++epoch) {
    MW_RETURN_IF_ERROR(trainer->RefreshNeighbors(epoch));
    double loss = 0;
    MW_RETURN_IF_ERROR(trainer->TrainEpoch(epoch, 0, &loss));
    training.Stop();
    if (lead) {
      std::printf("epoch %lld/%lld: loss %.4f, %.0f s training\n",
                  static_cast<long long>(epoch + 1), static_cast<long long>(spec.trainer.epochs),
                  loss, training.seconds());
      std::fflush(stdout);
    }
    if (spec.evaluate_every_epoch || epoch + 1 == spec.trainer.epochs) {
      MW_RETURN_IF_ERROR(evaluate(std::to_string(epoch + 1).c_str()));
    }
    training.Start();
  }
  for (double fraction : spec.fine_tune_fractions) {
    if (!evaluable) break;
    FineTuneOptions fine_tune;
    fine_tune.label_fraction = fraction;
    fine_tune.epochs = spec.fine_tune_epochs;
    fine_tune.seed = spec.trainer.seed;
    double top1 = 0;
    MW_RETURN_IF_ERROR(trainer->FineTune(*train, *test, fine_tune, &top1));
    if (lead) {
      std::printf("fine-tune %g%%: top1 %.4f\n", 100 * fraction, top1);
      std::fflush(stdout);
    }
  }
  return comm->Barrier();
}

}  // namespace
}  // namespace mw

int main(int argc, char** argv) {
  mw::KeepFreedTensorMemoryForReuse();
  std::string spec;
  int threads = 1;
  CLI::App app{"One rank of a local millionway training job"};
  app.add_option("--spec", spec, "job spec (JSON)")->required();
  app.add_option("--threads", threads, "intra-op threads")->envname("MW_THREADS");
  mw::ObjectStoreFlags store;
  mw::AddObjectStoreFlags(app, &store);
  CLI11_PARSE(app, argc, argv);
  at::set_num_threads(threads);
  mw::Status status = mw::ResolveObjectStoreFlags(&store);
  if (status.ok()) status = mw::Run(spec, store.options);
  if (!status.ok()) {
    std::fprintf(stderr, "mw_train_rank: %s\n", status.ToString().c_str());
    return 2;
  }
  return 0;
}
