// The kNN monitor: classifies each test feature by a weighted vote of its k most similar
// training features (cosine), each neighbour voting exp(similarity / t) for its label, as
// in instance-discrimination papers (k = 200, t = 0.07).
//
// Distributed like the classifier: each rank scores the test set against its own part of the
// training features only, in blocks, keeping a running top-k per test feature; the ranks'
// top-k lists are then gathered and merged. No rank ever holds all N training features nor a
// test × N similarity matrix: at 14.2M instances those would be 29 GB and 57 GB.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "common/status.h"
#include "worker/comm/communicator.h"

namespace mw {

struct KnnOptions {
  int64_t k = 200;
  double temperature = 0.07;
  int64_t num_classes = 10;
  int64_t block = 1024;         // test rows per similarity block
  int64_t train_block = 16384;  // training rows per similarity block
};

// Collective. train_part: [rows, dim] this rank's training features (any split of the
// training set over the ranks; a part may be empty), train_labels: [rows] int64 their labels;
// test_features: [T, dim], the same on every rank. Features need not be normalised. Sets
// *predictions to [T] int64, the voted label of each test feature, on every rank.
Status KnnPredict(Communicator& comm, const at::Tensor& train_part, const at::Tensor& train_labels,
                  const at::Tensor& test_features, const KnnOptions& options,
                  at::Tensor* predictions);

}  // namespace mw
