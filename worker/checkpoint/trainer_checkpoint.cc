#include "worker/checkpoint/trainer_checkpoint.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "common/row_partition.h"
#include "shard_server/checkpoint_coverage.h"

namespace mw {

namespace {

// The row tensors a checkpoint holds, by name: this rank's rows of each.
std::vector<std::pair<std::string, at::Tensor>> RowTensors(const Trainer& trainer, bool mid_epoch) {
  std::vector<std::pair<std::string, at::Tensor>> tensors = {
      {kWeightTensor, trainer.classifier_rows()}, {kMomentumTensor, trainer.classifier_momentum()}};
  if (mid_epoch && trainer.neighbor_rows().defined()) {
    tensors.emplace_back(kNeighborTensor, trainer.neighbor_rows());
  }
  return tensors;
}

// [begin, end) of this rank's rows that server s holds; empty when end <= begin.
std::pair<int64_t, int64_t> Overlap(int64_t begin, int64_t end, const RowPartition& servers,
                                    int s) {
  return {std::max(begin, servers.begin(s)), std::min(end, servers.end(s))};
}

// Reads rows [begin, end) of `name` from the servers that hold them into `rows`.
Status ReadRowTensor(const std::vector<ShardClient*>& servers, const RowPartition& partition,
                     const std::string& job_id, uint64_t checkpoint, const std::string& name,
                     int64_t begin, at::Tensor rows) {
  const int64_t end = begin + rows.size(0);
  const auto row_bytes = static_cast<uint64_t>(rows.size(1) * rows.element_size());
  for (int s = 0; s < partition.num_parts(); ++s) {
    const auto [first, last] = Overlap(begin, end, partition, s);
    if (last <= first) continue;
    std::string bytes;
    MW_RETURN_IF_ERROR(servers[s]->ReadRows(job_id, checkpoint, name, first, last, &bytes));
    char* into = static_cast<char*>(rows.data_ptr()) + (first - begin) * row_bytes;
    if (rows.scalar_type() == at::kInt && bytes.size() == 2 * (last - first) * row_bytes) {
      // Top-k ids as int64, as checkpoints before the table became int32 stored them.
      at::Tensor wide = at::from_blob(bytes.data(), {last - first, rows.size(1)}, at::kLong);
      at::from_blob(into, {last - first, rows.size(1)}, at::kInt).copy_(wide);
      continue;
    }
    if (bytes.size() != (last - first) * row_bytes) {
      return Status::DataLoss(name + ": server " + std::to_string(s) + " sent " +
                              std::to_string(bytes.size()) + " bytes for rows [" +
                              std::to_string(first) + ", " + std::to_string(last) + ")");
    }
    std::memcpy(into, bytes.data(), bytes.size());
  }
  return Status::Ok();
}

}  // namespace

uint64_t CheckpointSnapshot::bytes() const {
  uint64_t total = model.size() + backbone.size();
  for (const auto& [name, tensor] : rows) total += tensor.numel() * tensor.element_size();
  return total;
}

Status TakeSnapshot(Trainer& trainer, int rank, int64_t num_rows, bool mid_epoch,
                    CheckpointSnapshot* out) {
  out->rank = rank;
  out->num_rows = num_rows;
  out->row_begin = trainer.classifier_row_begin();
  const auto tensors = RowTensors(trainer, mid_epoch);
  // The last snapshot's buffers are reused when they fit: copying into memory already paged
  // in is several times faster than into fresh allocations, and this copy is all the
  // training time a checkpoint takes.
  bool reuse = out->rows.size() == tensors.size();
  for (size_t i = 0; reuse && i < tensors.size(); ++i) {
    reuse = out->rows[i].first == tensors[i].first &&
            out->rows[i].second.sizes() == tensors[i].second.sizes() &&
            out->rows[i].second.dtype() == tensors[i].second.dtype();
  }
  if (!reuse) out->rows.clear();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, tensor] = tensors[i];
    // A copy, never a view: the trainer updates its rows in place at the next step.
    if (reuse) {
      out->rows[i].second.copy_(tensor);
    } else {
      out->rows.emplace_back(
          name, tensor.to(at::kCPU, /*non_blocking=*/false, /*copy=*/true).contiguous());
    }
  }
  out->model.clear();
  out->backbone.clear();
  if (rank == 0) {
    MW_RETURN_IF_ERROR(trainer.SaveModel(&out->model));
    out->backbone = trainer.BackboneStateDict();
  }
  return Status::Ok();
}

Status WriteSnapshot(const CheckpointSnapshot& snapshot, const std::vector<ShardClient*>& servers,
                     const std::string& job_id, uint64_t checkpoint, uint32_t attempt,
                     std::vector<WrittenPiece>* written, const std::function<bool()>& cancelled) {
  if (servers.empty()) return Status::InvalidArgument("no shard servers to checkpoint to");
  written->clear();
  const auto write = [&](int s, const PieceRecord& header, const char* data, size_t bytes) {
    if (cancelled && cancelled()) {
      return Status::Cancelled("checkpoint " + std::to_string(checkpoint) + ": write cancelled");
    }
    WrittenPiece piece{s, {}};
    MW_RETURN_IF_ERROR(
        servers[s]->WritePiece(job_id, checkpoint, attempt, header, data, bytes, &piece.piece));
    written->push_back(std::move(piece));
    return Status::Ok();
  };
  const RowPartition partition(snapshot.num_rows, static_cast<int>(servers.size()));
  const int64_t begin = snapshot.row_begin;
  for (const auto& [name, rows] : snapshot.rows) {
    const int64_t end = begin + rows.size(0);
    const auto row_bytes = static_cast<uint64_t>(rows.size(1) * rows.element_size());
    for (int s = 0; s < partition.num_parts(); ++s) {
      const auto [first, last] = Overlap(begin, end, partition, s);
      if (last <= first) continue;
      PieceRecord header;
      header.tensor = name;
      header.rows = true;
      header.row_begin = static_cast<uint64_t>(first);
      header.row_end = static_cast<uint64_t>(last);
      header.row_bytes = row_bytes;
      header.total_rows = static_cast<uint64_t>(snapshot.num_rows);
      const char* data = static_cast<const char*>(rows.data_ptr()) + (first - begin) * row_bytes;
      MW_RETURN_IF_ERROR(write(s, header, data, (last - first) * row_bytes));
    }
  }
  if (snapshot.rank == 0) {
    for (const auto& [name, bytes] :
         {std::pair<const char*, const std::string*>{kModelBlob, &snapshot.model},
          {kBackboneBlob, &snapshot.backbone}}) {
      PieceRecord header;
      header.tensor = name;
      MW_RETURN_IF_ERROR(write(0, header, bytes->data(), bytes->size()));
    }
  }
  return Status::Ok();
}

Status SaveCheckpoint(Trainer& trainer, int rank, int64_t num_rows,
                      const std::vector<ShardClient*>& servers, const std::string& job_id,
                      uint64_t checkpoint, uint32_t attempt, bool mid_epoch,
                      std::vector<WrittenPiece>* written) {
  CheckpointSnapshot snapshot;
  MW_RETURN_IF_ERROR(TakeSnapshot(trainer, rank, num_rows, mid_epoch, &snapshot));
  return WriteSnapshot(snapshot, servers, job_id, checkpoint, attempt, written);
}

Status LoadCheckpoint(Trainer& trainer, int64_t num_rows, const std::vector<ShardClient*>& servers,
                      const std::string& job_id, uint64_t checkpoint, bool mid_epoch) {
  if (servers.empty()) return Status::InvalidArgument("no shard servers to load from");
  const RowPartition partition(num_rows, static_cast<int>(servers.size()));
  const int64_t begin = trainer.classifier_row_begin();
  for (const auto& [name, rows] : RowTensors(trainer, mid_epoch)) {
    // Read into host memory, then into the rows wherever they live.
    at::Tensor host =
        rows.is_cpu() ? rows : at::empty(rows.sizes(), rows.options().device(at::kCPU));
    MW_RETURN_IF_ERROR(ReadRowTensor(servers, partition, job_id, checkpoint, name, begin, host));
    if (!rows.is_cpu()) rows.copy_(host);
  }
  std::string model;
  MW_RETURN_IF_ERROR(servers[0]->ReadBlob(job_id, checkpoint, kModelBlob, &model));
  return trainer.LoadModel(model);
}

}  // namespace mw
