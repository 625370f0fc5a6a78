// ClassifierConfig: the cosine-softmax instance classifier's hyper-parameters and layout.
// Defaults are the paper's (d = 128, tau = 0.15, k = 100, alpha = 0.2, SGD momentum 0.9,
// weight decay 1e-4).
#pragma once

#include <cstdint>
#include <string>

#include "common/device_spec.h"
#include "common/status.h"

namespace mw {

// kBfloat16 is mixed precision: the matrix products take bf16 inputs and accumulate in fp32, the
// blocks of logits are stored in bf16, and everything else (rows, momentum, features, max,
// sum, loss, gradients) stays fp32. kFloat64 is the reference, CPU only.
enum class Precision { kFloat32, kFloat64, kBfloat16 };

const char* PrecisionName(Precision precision);  // "fp32", "fp64", "bf16"
// "fp32", "fp64" or "bf16"; anything else is INVALID_ARGUMENT naming it.
Status ParsePrecision(const std::string& text, Precision* out);
// Bytes of one logit in a block: 2 for bf16, else the width of the rows.
int64_t LogitBytes(Precision precision);

struct ClassifierConfig {
  int64_t num_classes = 0;    // N: one class per training instance
  int64_t dim = 128;          // d: embedding width
  double temperature = 0.15;  // tau
  int64_t top_k = 100;        // k: hardest classes that share the smoothed label mass
  double smoothing = 0.2;     // alpha: mass spread over the top-k; 0 = plain instance loss
  double momentum = 0.9;
  double weight_decay = 1e-4;
  // Classes per block of logits (0: the whole shard in one block). Small blocks keep the
  // B x chunk_rows working set in cache; memory for logits is O(B x chunk_rows) plus the
  // cache below.
  int64_t chunk_rows = 1024;
  // Bytes of exponentiated logits kept from forward to backward, in whole blocks; blocks
  // beyond the budget are recomputed in backward (one more matrix product each).
  // -1: keep every block (fewest FLOPs, B x |C_r| memory); 0: recompute every block.
  int64_t logit_cache_bytes = int64_t{1} << 30;
  Precision precision = Precision::kFloat32;
  DeviceSpec device;  // where rows, momentum and logits live
  // Sampled-instance classification (the paper's Table 3 baseline, PIC's scheme): each step
  // scores the batch against its own classes plus this many drawn uniformly from all N.
  // 0: every class (the method).
  int64_t sampled_classes = 0;
  uint64_t sampling_seed = 0;  // with the rank, seeds the draws of this classifier's life

  // Rules every layout must satisfy; names the first field that breaks one.
  Status Validate(int world_size) const;
};

}  // namespace mw
