#include "worker/classifier/classifier_memory.h"

#include <algorithm>
#include <cstdio>

namespace mw {

namespace {

std::string GiB(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", static_cast<double>(bytes) / (1 << 30));
  return text;
}

}  // namespace

std::string ClassifierMemory::ToString() const {
  return GiB(total()) + " GiB (weights " + GiB(weights) + ", momentum " + GiB(momentum) +
         ", logits " + GiB(logits) + ", top-k table " + GiB(neighbors) + ", its routed copy " +
         GiB(routed_neighbors) + ", its refresh " + GiB(refresh) + ", checkpoint snapshot " +
         GiB(snapshot) + ")";
}

ClassifierMemory EstimateClassifierMemory(const ClassifierConfig& config, int world_size,
                                          int64_t global_batch) {
  constexpr int64_t kFloat = 4, kId = 4, kCandidate = 4 + 8;
  ClassifierMemory m;
  const int64_t w = std::max(1, world_size);
  m.rows = (config.num_classes + w - 1) / w;
  m.weights = m.rows * config.dim * kFloat;
  m.momentum = m.weights;
  if (config.smoothing > 0) {
    m.neighbors = m.rows * config.top_k * kId;
    m.routed_neighbors = m.neighbors;  // the sampler gives each rank ceil(N / W) instances too
    // The running top-k; with W > 1 also one visit's candidates for another rank and those
    // received, and the visiting shard and the next. The rank's own shard, normalised, and
    // on a GPU its host copy.
    const int64_t candidate_arrays = w > 1 ? 3 : 1;
    const int64_t shards = 1 + (w > 1 ? 2 : 0) + (config.device.cuda ? 1 : 0);
    const int64_t routing = 4 * m.rows * config.top_k * kId;
    m.refresh = std::max(candidate_arrays * m.rows * config.top_k * kCandidate + shards * m.weights,
                         routing);
  }
  m.snapshot = m.weights + m.momentum + m.neighbors;
  const int64_t chunk = config.chunk_rows > 0 ? std::min(config.chunk_rows, m.rows) : m.rows;
  const int64_t logit = LogitBytes(config.precision);
  const int64_t all_blocks = global_batch * m.rows * logit;
  const int64_t cache = config.logit_cache_bytes < 0
                            ? all_blocks
                            : std::min<int64_t>(config.logit_cache_bytes, all_blocks);
  m.logits = 2 * global_batch * chunk * logit + cache;
  return m;
}

}  // namespace mw
