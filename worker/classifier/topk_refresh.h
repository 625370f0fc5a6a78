// The per-epoch top-k refresh: for every classifier row w_i, the k rows w_j (j != i) of
// highest cosine similarity, computed across the ranks that hold the shards so that no
// rank ever holds all of W.
//
// Shards travel around a ring; each rank multiplies its rows by the visiting shard in
// blocks and keeps a running top-k per row (TopKRows). Similarity is symmetric, so each
// entry of W W^T is computed once, by one of the two ranks that own its row and column,
// which also collects the column-wise candidates for the other's rows and sends them over
// after each visit: half the products of a naive ring, spread evenly over the ranks, in
// memory O(N/W) per rank. Ties go to the smaller row id, as a brute-force sort would.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "common/row_partition.h"
#include "common/status.h"
#include "worker/comm/communicator.h"

namespace mw {

struct TopKTable {
  at::Tensor ids;     // [rows, k] int64: global row ids, best first
  at::Tensor scores;  // [rows, k] float32: their cosine similarities
};

struct TopKRefreshOptions {
  int64_t k = 100;
  int64_t block_rows = 512;   // rows of the local shard per matrix product
  int64_t block_cols = 2048;  // rows of the visiting shard per matrix product
};

// Collective. shard: this rank's rows of W ([rows, d], any float type), laid out as
// RowPartition(num_rows, world_size). Requires k < num_rows.
Status RefreshTopK(Communicator& comm, const at::Tensor& shard, int64_t num_rows,
                   const TopKRefreshOptions& options, TopKTable* out);

// Collective. Moves rows of a row-partitioned table to the ranks that will read them:
// loads[q] holds the global row ids rank q needs (every rank passes the same loads, e.g.
// derived from the sampler's seeded permutation). Returns on each rank the rows of its own
// loads, in that order. table: this rank's rows [rows, cols], int32, int64 or float.
Status RouteRowsToLoaders(Communicator& comm, const RowPartition& partition,
                          const at::Tensor& table, const std::vector<at::Tensor>& loads,
                          at::Tensor* out);

}  // namespace mw
