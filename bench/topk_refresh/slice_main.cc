// The top-k refresh's work on a slice: the first --slice rows of N random unit rows scored
// against all N (generated block by block from seeds, so N = 14.2M needs no 7 GB of rows),
// with the refresh's own block sizes, matrix product and running top-k (TopKRows). A whole
// refresh at N costs about N / slice times this, halved for symmetry; what it costs per
// pair changes with N through the heap insertions (about k (1 + ln(N / k)) per row, so fewer
// per pair as N grows), which a slice at the real N measures and a smaller N would not.
// Prints one JSON line: the seconds spent scoring and selecting (generation excluded) and the
// nanoseconds per pair.
//
//   topk_slice --num-rows N [--slice 2048] [--dim 128] [--k 100] [--threads 1]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "bench/support/exit_status.h"
#include "worker/classifier/topk_refresh.h"
#include "worker/classifier/topk_selection.h"

namespace mw {
namespace {

struct Args {
  int64_t num_rows = 0, slice = 2048, dim = 128, k = 100;
  int threads = 1;
};

// Rows [first, first + n) of the N random unit rows: block b of kBlock rows is drawn from
// seed b, so any block can be made on its own.
constexpr int64_t kBlock = 2048;  // TopKRefreshOptions::block_cols

at::Tensor UnitRows(int64_t block, int64_t n, int64_t dim) {
  at::Generator generator = at::detail::createCPUGenerator(static_cast<uint64_t>(block) + 1);
  at::Tensor rows = at::randn({n, dim}, generator, at::TensorOptions().dtype(at::kFloat));
  return rows / rows.norm(2, {1}, true);
}

Status Run(const Args& args) {
  if (args.slice % kBlock != 0 || args.slice > args.num_rows || args.k >= args.num_rows) {
    return Status::InvalidArgument("--slice must be a multiple of 2048, at most N, and k < N");
  }
  const TopKRefreshOptions blocks;
  std::vector<at::Tensor> slice_parts;
  for (int64_t b = 0; b < args.slice / kBlock; ++b) {
    slice_parts.push_back(UnitRows(b, kBlock, args.dim));
  }
  const at::Tensor slice = at::cat(slice_parts);
  std::vector<float> scores(static_cast<size_t>(args.slice * args.k));
  std::vector<int64_t> ids(scores.size());
  TopKRows heaps(scores.data(), ids.data(), args.slice, args.k);
  heaps.Reset();
  at::Tensor buffer = at::empty({blocks.block_rows * kBlock});
  double scoring = 0;
  for (int64_t j0 = 0; j0 < args.num_rows; j0 += kBlock) {
    const int64_t nj = std::min(kBlock, args.num_rows - j0);
    const at::Tensor columns = UnitRows(j0 / kBlock, nj, args.dim);
    const auto start = std::chrono::steady_clock::now();
    for (int64_t i0 = 0; i0 < args.slice; i0 += blocks.block_rows) {
      const int64_t ni = std::min(blocks.block_rows, args.slice - i0);
      at::Tensor block = buffer.narrow(0, 0, ni * nj).view({ni, nj});
      at::mm_out(block, slice.narrow(0, i0, ni), columns.t());
      const float* s = block.data_ptr<float>();
      for (int64_t i = 0; i < ni; ++i) heaps.OfferRow(i0 + i, s + i * nj, nj, j0, i0 + i);
    }
    scoring += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  const double pairs = static_cast<double>(args.slice) * static_cast<double>(args.num_rows);
  const nlohmann::json line = {{"num_rows", args.num_rows},
                               {"slice", args.slice},
                               {"k", args.k},
                               {"threads", at::get_num_threads()},
                               {"seconds", scoring},
                               {"ns_per_pair", scoring / pairs * 1e9}};
  std::printf("%s\n", line.dump().c_str());
  return Status::Ok();
}

}  // namespace
}  // namespace mw

int main(int argc, char** argv) {
  mw::Args a;
  CLI::App app{"The top-k refresh's work on a slice of rows"};
  app.add_option("--num-rows", a.num_rows, "N")->required();
  app.add_option("--slice", a.slice, "rows scored against all N (a multiple of 2048)");
  app.add_option("--dim", a.dim, "d");
  app.add_option("--k", a.k, "neighbours per row");
  app.add_option("--threads", a.threads, "intra-op threads");
  CLI11_PARSE(app, argc, argv);
  at::set_num_threads(a.threads);
  return mw::ExitStatus("topk_slice", mw::Run(a));
}
