#include "worker/training/knn_monitor.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <limits>

#include "worker/comm/tensor_buffer.h"

namespace mw {

namespace {

at::Tensor Normalized(const at::Tensor& features) {
  return features.to(at::kFloat) / features.to(at::kFloat).norm(2, {1}, true).clamp_min(1e-12);
}

// The k best (similarity, label) pairs of each query among the rows of `bank`, best first;
// where the bank has fewer than k rows the rest are (-inf, 0), which vote nothing.
void LocalTopK(const at::Tensor& queries, const at::Tensor& bank, const at::Tensor& labels,
               int64_t k, int64_t train_block, at::Tensor* scores, at::Tensor* best_labels) {
  const int64_t n = queries.size(0);
  *scores = at::full({n, k}, -std::numeric_limits<float>::infinity(), queries.options());
  *best_labels = at::zeros({n, k}, labels.options());
  for (int64_t start = 0; start < bank.size(0); start += train_block) {
    const int64_t rows = std::min(train_block, bank.size(0) - start);
    const at::Tensor sims = queries.mm(Normalized(bank.narrow(0, start, rows)).t());
    const at::Tensor candidates = at::cat({*scores, sims}, 1);
    const at::Tensor candidate_labels =
        at::cat({*best_labels, labels.narrow(0, start, rows).unsqueeze(0).expand({n, rows})}, 1);
    auto [top, index] = candidates.topk(k, 1);
    *scores = top;
    *best_labels = candidate_labels.gather(1, index);
  }
}

}  // namespace

Status KnnPredict(Communicator& comm, const at::Tensor& train_part, const at::Tensor& train_labels,
                  const at::Tensor& test_features, const KnnOptions& options,
                  at::Tensor* predictions) {
  if (train_part.dim() != 2 || train_labels.dim() != 1 ||
      train_labels.size(0) != train_part.size(0) || test_features.dim() != 2 ||
      test_features.size(1) != train_part.size(1)) {
    return Status::InvalidArgument(
        "kNN: training part, its labels and the test features differ "
        "in shape");
  }
  at::Tensor total = at::full({1}, train_part.size(0), at::kLong);
  MW_RETURN_IF_ERROR(comm.AllReduce(ViewOf(total), ReduceOp::kSum));
  const int64_t k = std::min(options.k, total.item<int64_t>());
  if (k < 1) return Status::FailedPrecondition("kNN: no training features");
  const int world = comm.world_size();
  const at::Tensor labels = train_labels.to(at::kLong).contiguous();
  const at::Tensor queries = Normalized(test_features);
  *predictions = at::empty({queries.size(0)}, at::kLong);
  // Every rank walks the same test blocks, so the gathers pair up.
  for (int64_t start = 0; start < queries.size(0); start += options.block) {
    const int64_t n = std::min(options.block, queries.size(0) - start);
    at::Tensor scores, best_labels;
    LocalTopK(queries.narrow(0, start, n), train_part, labels, k, options.train_block, &scores,
              &best_labels);
    at::Tensor all_scores = at::empty({world, n, k}, at::kFloat);
    at::Tensor all_labels = at::empty({world, n, k}, at::kLong);
    scores = scores.contiguous();
    best_labels = best_labels.contiguous();
    MW_RETURN_IF_ERROR(comm.AllGather(ViewOf(scores), ViewOf(all_scores)));
    MW_RETURN_IF_ERROR(comm.AllGather(ViewOf(best_labels), ViewOf(all_labels)));
    // [n, W·k] candidates, the k best of them voting.
    const at::Tensor merged_scores = all_scores.permute({1, 0, 2}).reshape({n, world * k});
    const at::Tensor merged_labels = all_labels.permute({1, 0, 2}).reshape({n, world * k});
    auto [sims, index] = merged_scores.topk(k, 1);
    const at::Tensor votes = (sims / options.temperature).exp();
    at::Tensor tally = at::zeros({n, options.num_classes}, votes.options());
    tally.scatter_add_(1, merged_labels.gather(1, index), votes);
    predictions->narrow(0, start, n).copy_(tally.argmax(1));
  }
  return Status::Ok();
}

}  // namespace mw
