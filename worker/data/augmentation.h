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
#include "worker/data/augmentation_spec.h"

namespace mw {

class Augmenter {
 public:
  explicit Augmenter(AugmentationSpec spec) : spec_(std::move(spec)) {}

  // One view of `image` (CV_8UC1 or CV_8UC3, RGB): writes channels x size x size floats to
  // `out`, normalised by the spec's mean and std.
  void View(const cv::Mat& image, SplitMix64& rng, float* out) const;

  // View() in two halves, for a decoder that can shrink an image while decoding it: the
  // random resized crop of an image of `size`, drawn first from rng, ...
  cv::Rect Crop(cv::Size size, SplitMix64& rng) const;
  // ... then the rest of the view from the crop's pixels, with the same rng.
  void ViewOfCrop(const cv::Mat& crop, SplitMix64& rng, float* out) const;
  // The largest decoding denominator (1, 2, 4, 8) that leaves every one of `crops` at least
  // output_size pixels on each side, so shrinking early loses nothing the view keeps.
  int Denominator(const cv::Rect* crops, int count) const;
  // A crop of the full image in the coordinates of the image decoded at 1/denominator.
  static cv::Rect ScaledCrop(const cv::Rect& crop, int denominator, cv::Size scaled);

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
