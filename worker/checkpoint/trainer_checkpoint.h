// A trainer's state as checkpoint pieces on the shard servers, and back.
//
// Row tensors (classifier.weight, classifier.momentum) are range-partitioned over the S
// servers by RowPartition(N, S), independent of the W ranks that write them: each rank sends
// the intersection of its rows with each server's range, so a checkpoint written by W ranks
// loads on any other W' by reading each new range back, across piece boundaries. Rank 0 also
// writes the replicated state ("model": backbone, head, optimizer) and the torchvision state
// dict of the backbone ("backbone.pt", what `mwctl export` fetches) to server 0. The top-k
// table is recomputed from the weights at the start of every epoch, so a checkpoint at an
// epoch's end does not store it; one taken mid-epoch (a worker leaving) does, as
// "classifier.neighbors" rows, since the weights it came from are gone.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "shard_server/manifest.h"
#include "shard_server/shard_client.h"
#include "worker/training/trainer.h"

namespace mw {

struct WrittenPiece {
  int server = 0;  // index into the server list
  PieceRecord piece;
};

// What one rank's part of a checkpoint holds, copied out of the trainer at one instant (rows
// on the host; rank 0 also the serialized model and backbone state dict), so that training
// can go on while it is written.
struct CheckpointSnapshot {
  int rank = 0;
  int64_t num_rows = 0;                                  // N, of every row tensor
  int64_t row_begin = 0;                                 // this rank's first row
  std::vector<std::pair<std::string, at::Tensor>> rows;  // host copies, by piece name
  std::string model, backbone;                           // rank 0 only
  uint64_t bytes() const;
};

// Fills *out, reusing its buffers when they have the shapes needed (a snapshot handed back by
// CheckpointUpload::Reuse).
Status TakeSnapshot(Trainer& trainer, int rank, int64_t num_rows, bool mid_epoch,
                    CheckpointSnapshot* out);

// Writes a snapshot's pieces of checkpoint `checkpoint`, as gang attempt `attempt`; does not
// commit (the coordinator commits once every rank's pieces are in). `cancelled` (optional) is
// asked between pieces: true stops the write (CANCELLED).
Status WriteSnapshot(const CheckpointSnapshot& snapshot, const std::vector<ShardClient*>& servers,
                     const std::string& job_id, uint64_t checkpoint, uint32_t attempt,
                     std::vector<WrittenPiece>* written,
                     const std::function<bool()>& cancelled = nullptr);

// TakeSnapshot, then WriteSnapshot, on the calling thread.
Status SaveCheckpoint(Trainer& trainer, int rank, int64_t num_rows,
                      const std::vector<ShardClient*>& servers, const std::string& job_id,
                      uint64_t checkpoint, uint32_t attempt, bool mid_epoch,
                      std::vector<WrittenPiece>* written);

// Loads this rank's rows and the model from a committed checkpoint; `servers` are those it was
// written to, in their order then (the rows' partition is theirs, whatever the servers now).
Status LoadCheckpoint(Trainer& trainer, int64_t num_rows, const std::vector<ShardClient*>& servers,
                      const std::string& job_id, uint64_t checkpoint, bool mid_epoch);

}  // namespace mw
