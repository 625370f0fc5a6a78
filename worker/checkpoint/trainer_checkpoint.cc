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
    if (bytes.size() != (last - first) * row_bytes) {
      return Status::DataLoss(name + ": server " + std::to_string(s) + " sent " +
                              std::to_string(bytes.size()) + " bytes for rows [" +
                              std::to_string(first) + ", " + std::to_string(last) + ")");
    }
    std::memcpy(static_cast<char*>(rows.data_ptr()) + (first - begin) * row_bytes, bytes.data(),
                bytes.size());
  }
  return Status::Ok();
}

}  // namespace

Status SaveCheckpoint(Trainer& trainer, int rank, int64_t num_rows,
                      const std::vector<ShardClient*>& servers, const std::string& job_id,
                      uint64_t checkpoint, uint32_t attempt, bool mid_epoch,
                      std::vector<WrittenPiece>* written) {
  if (servers.empty()) return Status::InvalidArgument("no shard servers to checkpoint to");
  written->clear();
  const RowPartition partition(num_rows, static_cast<int>(servers.size()));
  const int64_t begin = trainer.classifier_row_begin();
  for (const auto& [name, tensor] : RowTensors(trainer, mid_epoch)) {
    const at::Tensor rows = tensor.cpu().contiguous();  // a GPU worker's rows come to the host
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
      header.total_rows = static_cast<uint64_t>(num_rows);
      WrittenPiece piece{s, {}};
      const char* data = static_cast<const char*>(rows.data_ptr()) + (first - begin) * row_bytes;
      MW_RETURN_IF_ERROR(servers[s]->WritePiece(job_id, checkpoint, attempt, header, data,
                                                (last - first) * row_bytes, &piece.piece));
      written->push_back(std::move(piece));
    }
  }
  if (rank == 0) {
    std::string model;
    MW_RETURN_IF_ERROR(trainer.SaveModel(&model));
    const std::string backbone = trainer.BackboneStateDict();
    for (const auto& [name, bytes] :
         {std::pair<const char*, const std::string*>{kModelBlob, &model},
          {kBackboneBlob, &backbone}}) {
      PieceRecord header;
      header.tensor = name;
      WrittenPiece piece{0, {}};
      MW_RETURN_IF_ERROR(servers[0]->WritePiece(job_id, checkpoint, attempt, header, bytes->data(),
                                                bytes->size(), &piece.piece));
      written->push_back(std::move(piece));
    }
  }
  return Status::Ok();
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
