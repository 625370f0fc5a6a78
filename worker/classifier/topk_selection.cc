#include "worker/classifier/topk_selection.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <vector>

namespace mw {

namespace {

// Heap order: the root is the worst entry kept.
inline bool Worse(float a_score, int64_t a_id, float b_score, int64_t b_id) {
  return a_score < b_score || (a_score == b_score && a_id > b_id);
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

void TopKRows::OfferRow(int64_t row, const float* scores, int64_t n, int64_t first_id,
                        int64_t skip) {
  float* s = scores_ + row * k_;
  int64_t* ids = ids_ + row * k_;
  for (int64_t j = 0; j < n; ++j) {
    // Most candidates lose to the root: one comparison each, rarely a sift.
    if (scores[j] < s[0]) continue;
    const int64_t id = first_id + j;
    if (id == skip || !Worse(s[0], ids[0], scores[j], id)) continue;
    Replace(s, ids, scores[j], id);
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
