// DistributedSampler: which instances each rank reads at each step of each epoch.
//
// Every epoch is a seeded permutation of the N instances, the same on every rank; step t
// takes the global batch perm[t·B, (t+1)·B) and rank r the slice [r·b, (r+1)·b) of it
// (B = W·b). The N mod B instances left at the end of a permutation sit the epoch out (a
// different few each epoch). Everything is a pure function of (seed, epoch, step), so a run
// resumes mid-epoch exactly, and every rank can tell which ids every other rank will load
// (the top-k routing needs that).
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"

namespace mw {

class DistributedSampler {
 public:
  // Fails unless num_instances >= world_size * local_batch >= 1.
  static Status Create(int64_t num_instances, int world_size, int64_t local_batch, uint64_t seed,
                       DistributedSampler* out);

  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  int64_t global_batch() const { return local_batch_ * world_size_; }

  // The permutation of epoch `epoch` (N ids). The latest one is kept, so the steps of an
  // epoch do not redraw it.
  const std::vector<int64_t>& Permutation(int64_t epoch) const;

  // Rank `rank`'s ids at step `step` of `epoch`; step in [0, steps_per_epoch).
  std::vector<int64_t> Batch(int64_t epoch, int64_t step, int rank) const;

  // Every id rank `rank` reads in `epoch`, in reading order.
  std::vector<int64_t> EpochIds(int64_t epoch, int rank) const;

 private:
  int64_t num_instances_ = 0;
  int world_size_ = 1;
  int64_t local_batch_ = 1;
  uint64_t seed_ = 0;
  int64_t steps_per_epoch_ = 0;
  mutable int64_t cached_epoch_ = -1;
  mutable std::vector<int64_t> cached_permutation_;
};

}  // namespace mw
