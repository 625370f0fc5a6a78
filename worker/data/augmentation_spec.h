// AugmentationSpec: the parameters of the two random views (see augmentation.h), apart from
// OpenCV, so that whatever validates job specs (the coordinator, mwctl) does not link it.
#pragma once

#include <cstdint>
#include <vector>

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

}  // namespace mw
