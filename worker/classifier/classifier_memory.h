// What one rank's share of the classifier holds in memory, from its configuration alone (no
// LibTorch): the arithmetic behind the sizing tables in the docs and behind a worker's refusal
// of a job that cannot fit, before it allocates anything.
#pragma once

#include <cstdint>
#include <string>

#include "worker/classifier/classifier_config.h"

namespace mw {

struct ClassifierMemory {
  int64_t rows = 0;      // ceil(N / W): the largest shard
  int64_t weights = 0;   // rows x d x 4 B
  int64_t momentum = 0;  // as much again
  int64_t logits = 0;    // B x chunk logits for a block and its gradient, plus the cache
  // With smoothing on: the epoch's top-k table for the rank's rows, rows x k x 4 B (int32 ids).
  int64_t neighbors = 0;
  // The top-k rows of the instances the rank loads this epoch (moved to it from their owners),
  // as many again.
  int64_t routed_neighbors = 0;
  // With smoothing on, while the table is recomputed (topk_refresh.h): the running top-k of the
  // rank's rows and, with W > 1, one visit's candidates for another rank's rows and those
  // received from one, each rows x k x (4 B score + 8 B id); and rows x d x 4 B shards: the
  // rank's own, normalised, with W > 1 the one visiting and the next, on a GPU a host copy.
  // Counted as if all lived at once: an upper bound. Or, if larger, routing the new table:
  // four rows x k x 4 B copies, made after the refresh's arrays are freed.
  int64_t refresh = 0;
  // A checkpoint's host copy of weights, momentum and (mid-epoch) the top-k table, held while
  // it is written in the background.
  int64_t snapshot = 0;
  // Where the job's device is a GPU: the rows, momentum and logits live on it, the rest on the
  // host. On the CPU everything is host memory.
  int64_t device() const { return weights + momentum + logits; }
  int64_t host() const { return neighbors + routed_neighbors + refresh + snapshot; }
  int64_t total() const { return device() + host(); }
  std::string ToString() const;  // "12.3 GiB (weights 6.1, momentum 6.1, ...)"
};

// `global_batch`: samples per step over all ranks (2 views x local batch x W).
ClassifierMemory EstimateClassifierMemory(const ClassifierConfig& config, int world_size,
                                          int64_t global_batch);

}  // namespace mw
