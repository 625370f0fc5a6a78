// FashionMnist: the Fashion-MNIST split of Debian's dataset-fashion-mnist package
// (/usr/share/datasets/fashion-mnist/): 28 x 28 grey images and their 10-class labels.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace mw {

inline constexpr char kFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";

struct GreyImages {
  int64_t count = 0;
  int64_t height = 0;
  int64_t width = 0;
  std::vector<uint8_t> pixels;  // [count, height, width]
  std::vector<int64_t> labels;  // [count]; class ids
};

enum class Split { kTrain, kTest };

// The first `count` images (all of them when count <= 0 or count >= all.count).
GreyImages FirstImages(GreyImages all, int64_t count);

// Reads `split` from `dir`; checks that images and labels agree in count and that labels
// lie in 0..9.
Status LoadFashionMnist(const std::string& dir, Split split, GreyImages* out);

}  // namespace mw
