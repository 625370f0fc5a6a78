#include "worker/classifier/topk_refresh.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <string>

#include "worker/classifier/row_normalization.h"
#include "worker/classifier/topk_selection.h"
#include "worker/comm/tensor_buffer.h"

namespace mw {

namespace {

struct Shard {
  at::Tensor unit;       // [rows, d] float32, unit rows
  int64_t first_id;      // global id of row 0
  int64_t heap_row = 0;  // the row of its TopKRows that row 0 feeds

  // Rows [begin, begin + n) as a shard of their own.
  Shard Rows(int64_t begin, int64_t n) const {
    return {unit.narrow(0, begin, n), first_id + begin, heap_row + begin};
  }
};

// Multiplies a by b block by block. Every product offers a's rows their candidates from b;
// with b_heaps it also offers b's rows their candidates from a (the symmetric half). When a
// and b are the same shard, only blocks on or above the diagonal are multiplied, and the
// diagonal blocks offer one direction only, so no pair is offered twice.
void ScoreShards(const Shard& a, TopKRows& a_heaps, const Shard& b, TopKRows* b_heaps, bool self,
                 const TopKRefreshOptions& options) {
  const int64_t a_rows = a.unit.size(0);
  const int64_t b_rows = b.unit.size(0);
  const int64_t block_rows = options.block_rows;
  const int64_t block_cols = self ? block_rows : options.block_cols;
  at::Tensor buffer = at::empty({block_rows * block_cols}, a.unit.options());
  std::vector<float> column_floor(static_cast<size_t>(block_cols));
  for (int64_t i0 = 0; i0 < a_rows; i0 += block_rows) {
    const int64_t ni = std::min(block_rows, a_rows - i0);
    for (int64_t j0 = self ? i0 : 0; j0 < b_rows; j0 += block_cols) {
      const int64_t nj = std::min(block_cols, b_rows - j0);
      at::Tensor scores = buffer.narrow(0, 0, ni * nj).view({ni, nj});
      at::mm_out(scores, a.unit.narrow(0, i0, ni), b.unit.narrow(0, j0, nj).t());
      const float* s = scores.data_ptr<float>();
      const bool symmetric = b_heaps != nullptr && !(self && j0 == i0);
      if (symmetric) {
        for (int64_t j = 0; j < nj; ++j) column_floor[j] = b_heaps->WorstScore(b.heap_row + j0 + j);
      }
      for (int64_t i = 0; i < ni; ++i) {
        const float* row = s + i * nj;
        const int64_t a_id = a.first_id + i0 + i;
        a_heaps.OfferRow(a.heap_row + i0 + i, row, nj, b.first_id + j0, a_id);
        if (symmetric) {
          b_heaps->OfferAcrossRows(b.heap_row + j0, row, nj, a_id, column_floor.data());
        }
      }
    }
  }
}

// At distance exactly W/2 (W even) both ranks of a pair visit each other. The product is
// split so each does half and every entry is computed once: the lower rank takes the top
// half of its rows against all of the visitor's, the upper rank all of its rows against the
// bottom half of the visitor's (the lower rank's) rows.
void ScoreVisit(const Shard& mine, TopKRows& heaps, const Shard& visitor, TopKRows& gifts, int rank,
                int distance, int world, const TopKRefreshOptions& options) {
  if (world % 2 != 0 || distance != world / 2) {
    ScoreShards(mine, heaps, visitor, &gifts, /*self=*/false, options);
    return;
  }
  if (rank < world / 2) {
    const int64_t top = mine.unit.size(0) / 2;
    if (top > 0) ScoreShards(mine.Rows(0, top), heaps, visitor, &gifts, false, options);
  } else {
    const int64_t top = visitor.unit.size(0) / 2;
    const int64_t bottom = visitor.unit.size(0) - top;
    ScoreShards(mine, heaps, visitor.Rows(top, bottom), &gifts, false, options);
  }
}

}  // namespace

Status RefreshTopK(Communicator& comm, const at::Tensor& shard, int64_t num_rows,
                   const TopKRefreshOptions& options, TopKTable* out) {
  const int world = comm.world_size();
  const int rank = comm.rank();
  if (num_rows < world) {
    return Status::InvalidArgument("num_rows = " + std::to_string(num_rows) +
                                   " must be >= world_size = " + std::to_string(world));
  }
  const RowPartition partition(num_rows, world);
  const int64_t k = options.k;
  if (k < 1 || k >= num_rows) {
    return Status::InvalidArgument("k = " + std::to_string(k) +
                                   " must be in [1, num_rows = " + std::to_string(num_rows) + ")");
  }
  if (options.block_rows < 1 || options.block_cols < 1) {
    return Status::InvalidArgument("block_rows and block_cols must be >= 1");
  }
  if (shard.dim() != 2 || shard.size(0) != partition.size(rank)) {
    return Status::InvalidArgument("shard holds " + std::to_string(shard.size(0)) + " rows, rank " +
                                   std::to_string(rank) + " owns " +
                                   std::to_string(partition.size(rank)));
  }
  const int64_t rows = shard.size(0);
  const int64_t dim = shard.size(1);
  const Shard mine{NormalizeRows(shard.to(at::kFloat)).unit.contiguous(), partition.begin(rank)};

  out->scores = at::empty({rows, k}, at::TensorOptions().dtype(at::kFloat));
  out->ids = at::empty({rows, k}, at::TensorOptions().dtype(at::kLong));
  TopKRows heaps(out->scores.data_ptr<float>(), out->ids.data_ptr<int64_t>(), rows, k);
  heaps.Reset();
  ScoreShards(mine, heaps, mine, &heaps, /*self=*/true, options);

  // Visit the shards at ring distance 1..W/2, collecting candidates for their owners. Each
  // visit's candidates go to the visited shard's owner at once, and the ones collected for
  // this rank's rows by the rank at the same distance behind come back: a rank holds one
  // visit's candidates at a time, O(N/W) memory where keeping all W/2 would be O(N).
  at::Tensor held = mine.unit;
  for (int step = 1; step <= world / 2; ++step) {
    const int visiting = (rank + step) % world;
    const int giver = (rank - step + world) % world;
    at::Tensor next = at::empty({partition.size(visiting), dim}, held.options());
    std::vector<int64_t> send_counts(static_cast<size_t>(world), 0);
    std::vector<int64_t> recv_counts(static_cast<size_t>(world), 0);
    send_counts[static_cast<size_t>((rank - 1 + world) % world)] = held.numel();
    recv_counts[static_cast<size_t>((rank + 1) % world)] = next.numel();
    MW_RETURN_IF_ERROR(
        comm.AllToAll(ViewOf(held), send_counts, ViewOf(next), recv_counts).Annotate("top-k ring"));
    held = next;
    at::Tensor gift_scores = at::empty({held.size(0), k}, out->scores.options());
    at::Tensor gift_ids = at::empty({held.size(0), k}, out->ids.options());
    TopKRows gifts(gift_scores.data_ptr<float>(), gift_ids.data_ptr<int64_t>(), held.size(0), k);
    gifts.Reset();
    ScoreVisit(mine, heaps, Shard{held, partition.begin(visiting)}, gifts, rank, step, world,
               options);
    std::fill(send_counts.begin(), send_counts.end(), 0);
    std::fill(recv_counts.begin(), recv_counts.end(), 0);
    send_counts[static_cast<size_t>(visiting)] = gift_scores.numel();
    recv_counts[static_cast<size_t>(giver)] = rows * k;
    at::Tensor in_scores = at::empty({rows * k}, out->scores.options());
    at::Tensor in_ids = at::empty({rows * k}, out->ids.options());
    MW_RETURN_IF_ERROR(
        comm.AllToAll(ViewOf(gift_scores), send_counts, ViewOf(in_scores), recv_counts)
            .Annotate("top-k candidates"));
    MW_RETURN_IF_ERROR(comm.AllToAll(ViewOf(gift_ids), send_counts, ViewOf(in_ids), recv_counts)
                           .Annotate("top-k candidates"));
    const float* s = in_scores.data_ptr<float>();
    const int64_t* ids = in_ids.data_ptr<int64_t>();
    for (int64_t e = 0; e < rows * k; ++e) heaps.Offer(e / k, s[e], ids[e]);
  }
  heaps.SortBestFirst();
  return Status::Ok();
}

Status RouteRowsToLoaders(Communicator& comm, const RowPartition& partition,
                          const at::Tensor& table, const std::vector<at::Tensor>& loads,
                          at::Tensor* out) {
  const int world = comm.world_size();
  const int rank = comm.rank();
  if (static_cast<int>(loads.size()) != world) {
    return Status::InvalidArgument("loads must hold one id list per rank (" +
                                   std::to_string(world) + "), got " +
                                   std::to_string(loads.size()));
  }
  if (table.dim() != 2 || table.size(0) != partition.size(rank)) {
    return Status::InvalidArgument("table must be this rank's [" +
                                   std::to_string(partition.size(rank)) + ", cols] rows");
  }
  const int64_t cols = table.size(1);
  std::vector<int64_t> starts(static_cast<size_t>(world) + 1);
  for (int p = 0; p <= world; ++p) starts[static_cast<size_t>(p)] = partition.begin(p);
  const at::Tensor boundaries = at::tensor(starts, at::TensorOptions().dtype(at::kLong));
  auto owners_of = [&](const at::Tensor& ids) {
    return at::searchsorted(boundaries, ids, /*out_int32=*/false, /*right=*/true) - 1;
  };

  std::vector<at::Tensor> outgoing;
  std::vector<int64_t> send_counts(static_cast<size_t>(world), 0);
  for (int q = 0; q < world; ++q) {
    const at::Tensor& ids = loads[static_cast<size_t>(q)];
    if (ids.numel() > 0 &&
        (ids.min().item<int64_t>() < 0 || ids.max().item<int64_t>() >= partition.num_rows())) {
      return Status::InvalidArgument("loads[" + std::to_string(q) + "] holds an id outside [0, " +
                                     std::to_string(partition.num_rows()) + ")");
    }
    at::Tensor local = ids.masked_select(owners_of(ids).eq(rank)) - partition.begin(rank);
    outgoing.push_back(table.index_select(0, local).reshape(-1));
    send_counts[static_cast<size_t>(q)] = local.numel() * cols;
  }
  const at::Tensor& wanted = loads[static_cast<size_t>(rank)];
  const at::Tensor wanted_owner = owners_of(wanted);
  std::vector<at::Tensor> positions;
  std::vector<int64_t> recv_counts(static_cast<size_t>(world), 0);
  for (int p = 0; p < world; ++p) {
    at::Tensor from_p = wanted_owner.eq(p).nonzero().reshape(-1);
    positions.push_back(from_p);
    recv_counts[static_cast<size_t>(p)] = from_p.numel() * cols;
  }
  at::Tensor send = at::cat(outgoing).contiguous();
  at::Tensor recv = at::empty({wanted.numel() * cols}, table.options());
  MW_RETURN_IF_ERROR(comm.AllToAll(ViewOf(send), send_counts, ViewOf(recv), recv_counts)
                         .Annotate("route top-k rows"));
  *out = at::empty({wanted.numel(), cols}, table.options());
  out->index_copy_(0, at::cat(positions), recv.view({wanted.numel(), cols}));
  return Status::Ok();
}

}  // namespace mw
