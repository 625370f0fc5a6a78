// One rank of the top-k refresh test (launched W times by topk_test).
//   topk_rank exact    rows with entries in {-1, 0, +1} and four non-zeros: every cosine is a
//                      multiple of 1/4, exact in any summation order, with ties everywhere;
//                      ids and scores must equal a brute-force sort (score desc, id asc)
//   topk_rank random   Gaussian rows; scores must match brute force to 1e-5 and every id
//                      must carry the score returned for it
//   topk_rank route    rows routed to the ranks that load them
//   topk_rank knn      the kNN monitor over the ranks' parts of the training features, in
//                      small blocks, predicts what one brute-force vote over all of them does
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "tests/support/check.h"
#include "worker/classifier/topk_refresh.h"
#include "worker/comm/gloo_communicator.h"
#include "worker/training/knn_monitor.h"

namespace mw {
namespace {

struct BruteForce {
  std::vector<std::vector<int64_t>> ids;
  std::vector<std::vector<double>> scores;
};

BruteForce Reference(const at::Tensor& rows, int64_t k) {
  at::Tensor w = rows.to(at::kDouble);
  w = w / w.norm(2, {1}, true);
  at::Tensor sim = w.mm(w.t());
  const int64_t n = rows.size(0);
  BruteForce ref;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<int64_t> order;
    for (int64_t j = 0; j < n; ++j) {
      if (j != i) order.push_back(j);
    }
    const double* s = sim[i].data_ptr<double>();
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return s[a] > s[b] || (s[a] == s[b] && a < b); });
    order.resize(static_cast<size_t>(k));
    std::vector<double> scores;
    for (int64_t j : order) scores.push_back(s[j]);
    ref.ids.push_back(order);
    ref.scores.push_back(scores);
  }
  return ref;
}

at::Tensor TernaryRows(at::Generator& gen, int64_t n, int64_t d) {
  at::Tensor rows = at::zeros({n, d});
  for (int64_t i = 0; i < n; ++i) {
    at::Tensor cols = at::randperm(d, gen, at::TensorOptions().dtype(at::kLong)).narrow(0, 0, 4);
    at::Tensor signs = at::randint(0, 2, {4}, gen, at::TensorOptions().dtype(at::kFloat)) * 2 - 1;
    rows[i].index_copy_(0, cols, signs);
  }
  return rows;
}

void CheckRefresh(Communicator& comm, const at::Tensor& all_rows, int64_t k, bool exact) {
  const int64_t n = all_rows.size(0);
  const RowPartition partition(n, comm.world_size());
  const int64_t begin = partition.begin(comm.rank());
  const int64_t rows = partition.size(comm.rank());
  TopKRefreshOptions options;
  options.k = k;
  options.block_rows = 8;  // small blocks: edges and the symmetric half get exercised
  options.block_cols = 13;
  TopKTable table;
  MW_CHECK_OK(RefreshTopK(comm, all_rows.narrow(0, begin, rows), n, options, &table));
  const BruteForce ref = Reference(all_rows, k);
  for (int64_t i = 0; i < rows; ++i) {
    const auto g = static_cast<size_t>(begin + i);
    for (int64_t j = 0; j < k; ++j) {
      const int64_t id = table.ids[i][j].item<int64_t>();
      const double score = table.scores[i][j].item<float>();
      const auto jj = static_cast<size_t>(j);
      if (exact) {
        MW_CHECK(id == ref.ids[g][jj] && score == ref.scores[g][jj],
                 "row %zu position %lld: got id %lld (%.4f), want %lld (%.4f)", g,
                 static_cast<long long>(j), static_cast<long long>(id), score,
                 static_cast<long long>(ref.ids[g][jj]), ref.scores[g][jj]);
      } else {
        MW_CHECK(std::abs(score - ref.scores[g][jj]) < 1e-5,
                 "row %zu position %lld score %.7f vs %.7f", g, static_cast<long long>(j), score,
                 ref.scores[g][jj]);
        MW_CHECK(id != static_cast<int64_t>(g), "row %zu lists itself", g);
        at::Tensor a = all_rows[static_cast<int64_t>(g)].to(at::kDouble);
        at::Tensor b = all_rows[id].to(at::kDouble);
        const double truth = (a.dot(b) / (a.norm() * b.norm())).item<double>();
        MW_CHECK(std::abs(truth - score) < 1e-5, "row %zu: id %lld has cosine %.7f, not %.7f", g,
                 static_cast<long long>(id), truth, score);
      }
    }
  }
}

void Route(Communicator& comm) {
  const int64_t n = 57;
  const int w = comm.world_size();
  const RowPartition partition(n, w);
  const int64_t begin = partition.begin(comm.rank());
  at::Tensor ids =
      at::arange(begin, partition.end(comm.rank()), at::TensorOptions().dtype(at::kLong));
  at::Tensor table = at::stack({ids * 10, ids * 10 + 1, ids * 10 + 2}, 1).contiguous();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  at::Tensor perm = at::randperm(n, gen, at::TensorOptions().dtype(at::kLong));
  std::vector<at::Tensor> loads;
  const RowPartition slices(n, w);
  for (int q = 0; q < w; ++q) loads.push_back(perm.narrow(0, slices.begin(q), slices.size(q)));
  at::Tensor out;
  MW_CHECK_OK(RouteRowsToLoaders(comm, partition, table, loads, &out));
  const at::Tensor& mine = loads[static_cast<size_t>(comm.rank())];
  MW_CHECK(out.size(0) == mine.size(0), "rows routed");
  for (int64_t c = 0; c < 3; ++c) {
    MW_CHECK(out.select(1, c).equal(mine * 10 + c), "routed column %lld",
             static_cast<long long>(c));
  }
}

void Knn(Communicator& comm) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
  const int64_t n = 203, t = 37, d = 8;
  const at::Tensor train = at::randn({n, d}, gen, at::TensorOptions().dtype(at::kFloat));
  const at::Tensor labels = at::randint(5, {n}, gen, at::TensorOptions().dtype(at::kLong));
  const at::Tensor test = at::randn({t, d}, gen, at::TensorOptions().dtype(at::kFloat));
  KnnOptions options;
  options.num_classes = 5;
  options.temperature = 0.1;
  options.block = 10;               // 37 test rows: four blocks, the last short
  options.train_block = 9;          // each part in several blocks
  for (int64_t k : {1, 20, 300}) {  // 300 > N: every training feature votes
    options.k = k;
    const auto unit = [](const at::Tensor& x) { return x / x.norm(2, {1}, true); };
    auto [sims, index] = unit(test).mm(unit(train).t()).topk(std::min(k, n), 1);
    at::Tensor tally = at::zeros({t, 5}, at::kFloat);
    tally.scatter_add_(1, labels.index_select(0, index.reshape(-1)).view(index.sizes()),
                       (sims / options.temperature).exp());
    const at::Tensor expected = tally.argmax(1);
    const RowPartition partition(n, comm.world_size());
    const int64_t begin = partition.begin(comm.rank()), rows = partition.size(comm.rank());
    at::Tensor predicted;
    MW_CHECK_OK(KnnPredict(comm, train.narrow(0, begin, rows), labels.narrow(0, begin, rows), test,
                           options, &predicted));
    MW_CHECK(predicted.equal(expected), "k = %lld: %lld of %lld predictions differ",
             static_cast<long long>(k),
             static_cast<long long>(predicted.ne(expected).sum().item<int64_t>()),
             static_cast<long long>(t));
  }
}

}  // namespace
}  // namespace mw

int main(int argc, char** argv) {
  MW_CHECK(argc == 2, "usage: topk_rank exact|random|route|knn");
  at::set_num_threads(1);
  mw::GangOptions options;
  MW_CHECK_OK(mw::GangOptionsFromEnvironment(&options));
  std::unique_ptr<mw::Communicator> comm;
  MW_CHECK_OK(mw::GlooCommunicator::Create(options, &comm));
  const std::string mode = argv[1];
  auto gen = at::make_generator<at::CPUGeneratorImpl>(42);
  if (mode == "exact") {
    const at::Tensor rows = mw::TernaryRows(gen, 101, 16);
    for (int64_t k : {1, 7, 30}) mw::CheckRefresh(*comm, rows, k, /*exact=*/true);
  } else if (mode == "random") {
    const at::Tensor rows = at::randn({203, 32}, gen, at::TensorOptions().dtype(at::kFloat));
    for (int64_t k : {1, 7}) mw::CheckRefresh(*comm, rows, k, /*exact=*/false);
  } else if (mode == "route") {
    mw::Route(*comm);
  } else if (mode == "knn") {
    mw::Knn(*comm);
  } else {
    MW_CHECK(false, "unknown mode %s", argv[1]);
  }
  return 0;
}
