#include "worker/classifier/topk_selection.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <vector>

#include "worker/classifier/cpu_dispatch.h"

namespace mw {

namespace {

// Heap order: the root is the worst entry kept.
inline bool Worse(float a_score, int64_t a_id, float b_score, int64_t b_id) {
  return a_score < b_score || (a_score == b_score && a_id > b_id);
}

// Candidates arrive in spans; a span is looked at element by element only if one of its
// scores can enter, which a vectorised max decides. After the first few blocks nearly every
// span is skipped.
constexpr int64_t kSpan = 64;

// Written with ?: rather than std::max, whose reference arguments stop GCC 12 vectorising.
inline float SpanMax(const float* scores, int64_t n) {
  float max = scores[0];
#pragma omp simd reduction(max : max)
  for (int64_t j = 0; j < n; ++j) max = scores[j] > max ? scores[j] : max;
  return max;
}

inline float SpanMaxMargin(const float* scores, const float* floors, int64_t n) {
  float max = scores[0] - floors[0];
#pragma omp simd reduction(max : max)
  for (int64_t j = 0; j < n; ++j) {
    const float margin = scores[j] - floors[j];
    max = margin > max ? margin : max;
  }
  return max;
}

}  // namespace

void TopKRows::Reset() {
  std::fill(scores_, scores_ + rows_ * k_, -std::numeric_limits<float>::infinity());
  std::fill(ids_, ids_ + rows_ * k_, std::numeric_limits<int64_t>::max());
}

void TopKRows::Replace(float* s, int64_t* ids, float score, int64_t id) {
  // Sift the new entry down from the root of a min-heap under Worse.
  int64_t i = 0;
  for (;;) {
    const int64_t left = 2 * i + 1;
    if (left >= k_) break;
    int64_t child = left;
    if (left + 1 < k_ && Worse(s[left + 1], ids[left + 1], s[left], ids[left])) child = left + 1;
    if (!Worse(s[child], ids[child], score, id)) break;
    s[i] = s[child];
    ids[i] = ids[child];
    i = child;
  }
  s[i] = score;
  ids[i] = id;
}

void TopKRows::Offer(int64_t row, float score, int64_t id) {
  float* s = scores_ + row * k_;
  int64_t* ids = ids_ + row * k_;
  if (Worse(s[0], ids[0], score, id)) Replace(s, ids, score, id);
}

MW_CPU_CLONES void TopKRows::OfferRow(int64_t row, const float* scores, int64_t n, int64_t first_id,
                                      int64_t skip) {
  float* s = scores_ + row * k_;
  int64_t* ids = ids_ + row * k_;
  for (int64_t j0 = 0; j0 < n; j0 += kSpan) {
    const int64_t end = std::min(n, j0 + kSpan);
    if (SpanMax(scores + j0, end - j0) < s[0]) continue;
    for (int64_t j = j0; j < end; ++j) {
      const int64_t id = first_id + j;
      if (scores[j] < s[0] || id == skip || !Worse(s[0], ids[0], scores[j], id)) continue;
      Replace(s, ids, scores[j], id);
    }
  }
}

MW_CPU_CLONES void TopKRows::OfferAcrossRows(int64_t first_row, const float* scores, int64_t n,
                                             int64_t id, float* floors) {
  for (int64_t j0 = 0; j0 < n; j0 += kSpan) {
    const int64_t end = std::min(n, j0 + kSpan);
    if (SpanMaxMargin(scores + j0, floors + j0, end - j0) < 0) continue;
    for (int64_t j = j0; j < end; ++j) {
      if (scores[j] < floors[j]) continue;
      Offer(first_row + j, scores[j], id);
      floors[j] = WorstScore(first_row + j);
    }
  }
}

void TopKRows::SortBestFirst() {
  std::vector<int64_t> order(static_cast<size_t>(k_));
  std::vector<float> s_sorted(static_cast<size_t>(k_));
  std::vector<int64_t> id_sorted(static_cast<size_t>(k_));
  for (int64_t r = 0; r < rows_; ++r) {
    float* s = scores_ + r * k_;
    int64_t* ids = ids_ + r * k_;
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](int64_t a, int64_t b) { return Worse(s[b], ids[b], s[a], ids[a]); });
    for (int64_t j = 0; j < k_; ++j) {
      s_sorted[j] = s[order[j]];
      id_sorted[j] = ids[order[j]];
    }
    std::copy(s_sorted.begin(), s_sorted.end(), s);
    std::copy(id_sorted.begin(), id_sorted.end(), ids);
  }
}

}  // namespace mw
