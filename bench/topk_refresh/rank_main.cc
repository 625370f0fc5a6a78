// One rank of bench/topk_refresh: reads its shard of a float32 row file, runs the distributed
// top-k refresh, writes its rows' neighbour ids into the shared output file at its offset, and
// prints (rank 0) the slowest rank's time as JSON.
//
//   topk_refresh_rank --rows FILE --num-rows N --dim D --k K --out FILE [--threads 1]
// Rank, world size and rendezvous come from MW_RANK, MW_WORLD_SIZE, MW_STORE_PORT.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "bench/support/exit_status.h"
#include "worker/classifier/topk_refresh.h"
#include "worker/comm/gloo_communicator.h"

namespace mw {
namespace {

struct Args {
  std::string rows_file, out_file;
  int64_t num_rows = 0, dim = 128, k = 100;
  int threads = 1;
};

Status Run(const Args& args) {
  GangOptions options;
  options.timeout = std::chrono::minutes(30);
  MW_RETURN_IF_ERROR(GangOptionsFromEnvironment(&options));
  std::unique_ptr<Communicator> comm;
  MW_RETURN_IF_ERROR(GlooCommunicator::Create(options, &comm));
  const RowPartition partition(args.num_rows, comm->world_size());
  const int64_t begin = partition.begin(comm->rank());
  const int64_t rows = partition.size(comm->rank());

  at::Tensor shard = at::empty({rows, args.dim});
  std::ifstream in(args.rows_file, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(begin * args.dim * 4));
  in.read(static_cast<char*>(shard.data_ptr()), static_cast<std::streamsize>(shard.nbytes()));
  if (!in) return Status::InvalidArgument(args.rows_file + ": shorter than N x d float32");

  MW_RETURN_IF_ERROR(comm->Barrier());
  const auto start = std::chrono::steady_clock::now();
  TopKRefreshOptions refresh;
  refresh.k = args.k;
  TopKTable table;
  MW_RETURN_IF_ERROR(RefreshTopK(*comm, shard, args.num_rows, refresh, &table));
  std::vector<double> seconds{
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
  MW_RETURN_IF_ERROR(
      comm->AllReduce(BufferView{seconds.data(), 1, DataType::kFloat64}, ReduceOp::kMax));

  std::fstream out(args.out_file, std::ios::binary | std::ios::in | std::ios::out);
  out.seekp(static_cast<std::streamoff>(begin * args.k * 8));
  out.write(static_cast<const char*>(table.ids.data_ptr()),
            static_cast<std::streamsize>(table.ids.nbytes()));
  if (!out) return Status::Internal(args.out_file + ": write failed");
  out.close();
  if (comm->rank() == 0) {
    const nlohmann::json line = {
        {"seconds", seconds[0]}, {"world", comm->world_size()}, {"threads", at::get_num_threads()}};
    std::printf("%s\n", line.dump().c_str());
  }
  return comm->Barrier();
}

}  // namespace
}  // namespace mw

int main(int argc, char** argv) {
  mw::Args a;
  CLI::App app{"One rank of bench/topk_refresh"};
  app.add_option("--rows", a.rows_file, "float32 [N, d] row file")->required();
  app.add_option("--out", a.out_file, "int64 [N, k] neighbour file, pre-sized")->required();
  app.add_option("--num-rows", a.num_rows, "N")->required();
  app.add_option("--dim", a.dim, "d");
  app.add_option("--k", a.k, "neighbours per row");
  app.add_option("--threads", a.threads, "intra-op threads");
  CLI11_PARSE(app, argc, argv);
  at::set_num_threads(a.threads);
  return mw::ExitStatus("topk_refresh_rank", mw::Run(a));
}
