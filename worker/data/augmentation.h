// Augmentation: the two random views of an image that make one training pair, with OpenCV:
// random resized crop, horizontal flip, colour jitter (brightness, contrast, saturation, hue
// in random order), random grayscale, Gaussian blur, then normalisation to a float CHW
// array. Every draw comes from a SplitMix64 seeded by the caller, so a view is a pure
// function of (image, seed) and a resumed epoch sees the same views.
#pragma once

#include <cstdint>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "common/split_mix.h"
#include "common/status.h"

namespace mw {

struct AugmentationSpec {
  int64_t output_size = 224;
  double crop_scale_min = 0.2;  // fraction of the image area a crop keeps
  double crop_scale_max = 1.0;
  double crop_ratio_min = 3.0 / 4.0;
  double crop_ratio_max = 4.0 / 3.0;
  double flip_probability = 0.5;
  double jitter_probability = 0.8;
  double brightness = 0.4;  // factors drawn from [1 - x, 1 + x]
  double contrast = 0.4;
  double saturation = 0.4;
  double hue = 0.1;  // shift drawn from [-x, x] of a full turn
  double grayscale_probability = 0.2;
  double blur_probability = 0.5;
  double blur_sigma_min = 0.1;
  double blur_sigma_max = 2.0;
  std::vector<float> mean{0.485f, 0.456f, 0.406f};
  std::vector<float> std{0.229f, 0.224f, 0.225f};

  // The paper's ImageNet recipe (MoCo-v2-style views at 224 x 224).
  static AugmentationSpec ImageNet();
  // Scaled for 28 x 28 grey images: crops of 28, no hue/saturation (one channel), blur
  // sigma scaled by 28/224, Fashion-MNIST's mean and std.
  static AugmentationSpec FashionMnist();

  // Names the first field that breaks a rule.
  Status Validate() const;
};

class Augmenter {
 public:
  explicit Augmenter(AugmentationSpec spec) : spec_(std::move(spec)) {}

  // One view of `image` (CV_8UC1 or CV_8UC3, RGB): writes channels x size x size floats to
  // `out`, normalised by the spec's mean and std.
  void View(const cv::Mat& image, SplitMix64& rng, float* out) const;

  // The un-augmented input the network sees for feature extraction and evaluation: the
  // shorter side scaled to output_size, the centre square cut out, normalised.
  void Plain(const cv::Mat& image, float* out) const;

  // Floats one view occupies: channels x output_size x output_size.
  int64_t ViewFloats(int channels) const {
    return channels * spec_.output_size * spec_.output_size;
  }

  const AugmentationSpec& spec() const { return spec_; }

 private:
  // img: float in [0, 1], output_size square.
  void Normalise(const cv::Mat& img, float* out) const;

  AugmentationSpec spec_;
};

}  // namespace mw
