#include "worker/training/knn_monitor.h"

#include <ATen/ATen.h>

#include <algorithm>

namespace mw {

double KnnAccuracy(const at::Tensor& train_features, const at::Tensor& train_labels,
                   const at::Tensor& test_features, const at::Tensor& test_labels,
                   const KnnOptions& options) {
  const at::Tensor bank = train_features / train_features.norm(2, {1}, true).clamp_min(1e-12);
  const at::Tensor queries = test_features / test_features.norm(2, {1}, true).clamp_min(1e-12);
  const int64_t k = std::min(options.k, bank.size(0));
  int64_t correct = 0;
  for (int64_t start = 0; start < queries.size(0); start += options.block) {
    const int64_t n = std::min(options.block, queries.size(0) - start);
    const auto [sims, idx] = queries.narrow(0, start, n).mm(bank.t()).topk(k, 1);
    const at::Tensor votes = (sims / options.temperature).exp();
    const at::Tensor labels = train_labels.index_select(0, idx.reshape(-1)).view({n, k});
    at::Tensor scores = at::zeros({n, options.num_classes}, votes.options());
    scores.scatter_add_(1, labels, votes);
    correct += scores.argmax(1).eq(test_labels.narrow(0, start, n)).sum().item<int64_t>();
  }
  return static_cast<double>(correct) / static_cast<double>(queries.size(0));
}

}  // namespace mw
