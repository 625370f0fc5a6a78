// SplitMix64: a small, fully specified random generator. Used wherever every rank and every
// build must draw the same numbers from the same seed (epoch permutations, augmentation),
// which std::shuffle and std:: distributions do not promise.
#pragma once

#include <cstdint>

namespace mw {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, bound), without modulo bias.
  uint64_t Below(uint64_t bound) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t x;
    do {
      x = Next();
    } while (x >= limit);
    return x % bound;
  }

  // Uniform in [lo, hi).
  double Uniform(double lo, double hi) {
    return lo + (hi - lo) * static_cast<double>(Next() >> 11) * 0x1.0p-53;
  }

  bool Bernoulli(double p) { return Uniform(0, 1) < p; }

 private:
  uint64_t state_;
};

// A seed for an independent stream from a base seed and up to three indices.
inline uint64_t MixSeed(uint64_t seed, uint64_t a, uint64_t b = 0, uint64_t c = 0) {
  SplitMix64 mix(seed ^ (a * 0xD1B54A32D192ED03ULL) ^ (b * 0xAEF17502108EF2D9ULL) ^
                 (c * 0x9E3779B97F4A7C15ULL));
  return mix.Next();
}

}  // namespace mw
