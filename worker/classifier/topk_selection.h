// Running top-k selection over streamed scores, one small heap per row, as FAISS's exact
// search keeps. The order is total and deterministic: a higher score wins, and between equal
// scores the smaller id wins, so a distributed refresh returns exactly what a brute-force
// sort would.
//
// Plain C++ on raw memory; the refresh feeds it blocks of similarities.
#pragma once

#include <cstdint>

namespace mw {

class TopKRows {
 public:
  // rows heaps of k entries, stored in the caller's [rows, k] arrays (scores, ids), which
  // Reset fills with "empty" entries (score -infinity, id INT64_MAX).
  TopKRows(float* scores, int64_t* ids, int64_t rows, int64_t k)
      : scores_(scores), ids_(ids), rows_(rows), k_(k) {}

  void Reset();

  // Offers row `row` the candidates (scores[j], first_id + j) for j in [0, n), skipping the
  // id `skip` (the row's own id; pass -1 for none).
  void OfferRow(int64_t row, const float* scores, int64_t n, int64_t first_id, int64_t skip);

  // Offers row first_row + j the candidate (scores[j], id) for j in [0, n): one candidate
  // to each of n rows, as a column of a score block offers its entries. floors[j] must hold
  // WorstScore(first_row + j) and is kept up to date.
  void OfferAcrossRows(int64_t first_row, const float* scores, int64_t n, int64_t id,
                       float* floors);

  // Offers row `row` one candidate.
  void Offer(int64_t row, float score, int64_t id);

  // Sorts each row best first. The heaps are no longer heaps afterwards.
  void SortBestFirst();

  // The worst kept score of a row: candidates below it cannot enter.
  float WorstScore(int64_t row) const { return scores_[row * k_]; }

 private:
  void Replace(float* s, int64_t* ids, float score, int64_t id);

  float* scores_;
  int64_t* ids_;
  int64_t rows_;
  int64_t k_;
};

}  // namespace mw
