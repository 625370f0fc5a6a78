// One rank of the prior test: each way of initialising the classifier, checked row by row.
//  - contrastive prior: row i is image i's embedding by the random network in train mode
//    (BN by batch statistics), recomputed independently of the trainer: the same seeded
//    network built here from the model library, the raw idx pixels normalised here, the
//    forward run here on the prior's passes;
//  - frozen-BN prior: row i is image i's eval-mode embedding;
//  - Gaussian: unit rows, nearly orthogonal, and not the prior's rows.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <memory>

#include "tests/support/check.h"
#include "worker/comm/gloo_communicator.h"
#include "worker/data/in_memory_dataset.h"
#include "worker/model/projection_head.h"
#include "worker/model/resnet.h"
#include "worker/training/trainer.h"

namespace mw {
namespace {

std::unique_ptr<Trainer> MakeTrainer(ClassifierInit init, Communicator* comm, const Dataset* data) {
  TrainerConfig config;
  config.init = init;
  config.classifier.top_k = 10;
  config.local_batch = 50;
  std::unique_ptr<Trainer> trainer;
  MW_CHECK_OK(Trainer::Create(config, comm, data, &trainer));
  MW_CHECK_OK(trainer->InitializeClassifier());
  return trainer;
}

double MaxDiff(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

// The contrastive prior's rows [begin, begin + count) computed without the trainer: a network
// seeded as every rank's is, Fashion-MNIST's pixels scaled to [0, 1] and standardised with its
// mean and deviation (0.2860, 0.3530), train-mode passes of Trainer::kPriorChunk images.
at::Tensor IndependentPrior(const GreyImages& images, int64_t begin, int64_t count) {
  const TrainerConfig config;
  torch::manual_seed(config.seed);
  ResNetSpec spec;
  MW_CHECK_OK(ResNetSpec::FromName(config.backbone, &spec));
  spec.in_channels = 1;
  ResNet backbone(spec);
  ProjectionHead head(backbone->feature_dim(), config.hidden_dim, config.classifier.dim);
  backbone->train();
  head->train();
  torch::NoGradGuard no_grad;
  const int64_t pixels = images.height * images.width;
  std::vector<at::Tensor> parts;
  for (int64_t i = 0; i < count; i += Trainer::kPriorChunk) {
    const int64_t n = std::min(Trainer::kPriorChunk, count - i);
    const at::Tensor raw =
        at::from_blob(const_cast<uint8_t*>(images.pixels.data()) + (begin + i) * pixels,
                      {n, 1, images.height, images.width}, at::kByte);
    const at::Tensor x = (raw.to(at::kFloat) / 255.0 - 0.2860) / 0.3530;
    const at::Tensor e = head->forward(backbone->Features(x));
    parts.push_back(e / e.norm(2, {1}, true));
  }
  return at::cat(parts);
}

}  // namespace
}  // namespace mw

int main() {
  at::set_num_threads(1);
  mw::GangOptions options;
  MW_CHECK_OK(mw::GangOptionsFromEnvironment(&options));
  std::unique_ptr<mw::Communicator> comm;
  MW_CHECK_OK(mw::GlooCommunicator::Create(options, &comm));
  mw::GreyImages images;
  MW_CHECK_OK(mw::LoadFashionMnist(mw::kFashionMnistDir, mw::Split::kTrain, &images));
  // 1,000 rows: parts of 500 per rank, so the last pass of each part is a short one.

  const mw::GreyImages first = mw::FirstImages(images, 1000);
  const mw::InMemoryDataset data(first, "train");

  auto prior = mw::MakeTrainer(mw::ClassifierInit::kContrastivePrior, comm.get(), &data);
  const at::Tensor rows = prior->classifier_rows();
  const int64_t begin = prior->classifier_row_begin();
  const at::Tensor expected = mw::IndependentPrior(first, begin, rows.size(0));
  const double diff = mw::MaxDiff(rows, expected);
  MW_CHECK(diff < 1e-5, "contrastive prior rows differ from the independent embedding by %g", diff);
  auto twin = mw::MakeTrainer(mw::ClassifierInit::kGaussian, comm.get(), &data);

  auto frozen = mw::MakeTrainer(mw::ClassifierInit::kFrozenBnPrior, comm.get(), &data);
  at::Tensor eval_embeddings;
  const at::Tensor frozen_rows = frozen->classifier_rows();
  MW_CHECK_OK(frozen->Embeddings(data, begin, frozen_rows.size(0), false, &eval_embeddings));
  const double frozen_diff = mw::MaxDiff(frozen_rows, eval_embeddings);
  MW_CHECK(frozen_diff < 1e-5, "frozen-BN prior rows differ by %g", frozen_diff);
  MW_CHECK(mw::MaxDiff(frozen_rows, rows) > 1e-3, "frozen-BN and contrastive priors agree");

  const at::Tensor gaussian = twin->classifier_rows();
  const double norm_error = (gaussian.norm(2, {1}) - 1).abs().max().item<double>();
  MW_CHECK(norm_error < 1e-5, "Gaussian rows are not unit: %g", norm_error);
  const at::Tensor cosines = gaussian.mm(gaussian.t()) - at::eye(gaussian.size(0));
  const double mean_abs = cosines.abs().mean().item<double>();
  MW_CHECK(mean_abs < 0.15, "Gaussian rows not near-orthogonal: mean |cos| %g", mean_abs);
  // Rows of the prior share the random network's bias: far from orthogonal.
  const double prior_mean = (rows.mm(rows.t()) - at::eye(rows.size(0))).abs().mean().item<double>();
  MW_CHECK(prior_mean > mean_abs, "prior rows as spread as Gaussian: %g vs %g", prior_mean,
           mean_abs);
  return 0;
}
