#include "worker/data/synthetic_dataset.h"

#include <cmath>

#include "common/split_mix.h"

namespace mw {

Status SyntheticSpec::Validate() const {
  if (size < 1)
    return Status::InvalidArgument("synthetic size = " + std::to_string(size) + " must be >= 1");
  if (image_size < 8) {
    return Status::InvalidArgument("synthetic image_size = " + std::to_string(image_size) +
                                   " must be >= 8");
  }
  if (num_labels < 1) {
    return Status::InvalidArgument("synthetic num_labels = " + std::to_string(num_labels) +
                                   " must be >= 1");
  }
  return Status::Ok();
}

Status SyntheticDataset::Image(int64_t index, cv::Mat* out) const {
  if (index < 0 || index >= spec_.size) {
    return Status::OutOfRange("synthetic image " + std::to_string(index) + " of " +
                              std::to_string(spec_.size));
  }
  SplitMix64 rng(MixSeed(spec_.seed, static_cast<uint64_t>(index)));
  const double angle =
      M_PI * static_cast<double>(Label(index)) / static_cast<double>(spec_.num_labels);
  const double frequency = rng.Uniform(0.15, 0.6);
  const double phase = rng.Uniform(0, 2 * M_PI);
  const double dx = std::cos(angle) * frequency, dy = std::sin(angle) * frequency;
  double tint[3];
  for (double& t : tint) t = rng.Uniform(0.3, 1.0);
  const int s = spec_.image_size;
  out->create(s, s, CV_8UC3);
  for (int y = 0; y < s; ++y) {
    auto* row = out->ptr<uint8_t>(y);
    for (int x = 0; x < s; ++x) {
      const double wave = 0.5 + 0.4 * std::sin(dx * x + dy * y + phase);
      for (int c = 0; c < 3; ++c) {
        const double noise = rng.Uniform(-0.1, 0.1);
        const double v = std::clamp(wave * tint[c] + noise, 0.0, 1.0);
        row[3 * x + c] = static_cast<uint8_t>(std::lround(255.0 * v));
      }
    }
  }
  return Status::Ok();
}

std::string SyntheticDataset::Describe() const {
  return "synthetic (" + std::to_string(spec_.size) + " images, " +
         std::to_string(spec_.image_size) + "x" + std::to_string(spec_.image_size) + " RGB, " +
         std::to_string(spec_.num_labels) + " labels)";
}

}  // namespace mw
