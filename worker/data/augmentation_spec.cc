#include "worker/data/augmentation_spec.h"

#include <sstream>

namespace mw {

namespace {

template <typename T>
Status Check(bool ok, const char* field, T value, const char* rule) {
  if (ok) return Status::Ok();
  std::ostringstream msg;
  msg << field << " = " << value << " " << rule;
  return Status::InvalidArgument(msg.str());
}

}  // namespace

AugmentationSpec AugmentationSpec::ImageNet() { return AugmentationSpec{}; }

AugmentationSpec AugmentationSpec::FashionMnist() {
  AugmentationSpec spec;
  spec.output_size = 28;
  spec.saturation = 0;
  spec.hue = 0;
  spec.grayscale_probability = 0;
  spec.blur_sigma_min = 0.1 * 28.0 / 224.0;
  spec.blur_sigma_max = 2.0 * 28.0 / 224.0 * 4;  // a 3-pixel kernel needs sigma ~1 to show
  spec.mean = {0.2860f};
  spec.std = {0.3530f};
  return spec;
}

Status AugmentationSpec::Validate() const {
  MW_RETURN_IF_ERROR(Check(output_size >= 1, "output_size", output_size, "must be >= 1"));
  MW_RETURN_IF_ERROR(Check(crop_scale_min > 0 && crop_scale_min <= crop_scale_max, "crop_scale_min",
                           crop_scale_min, "must be in (0, crop_scale_max]"));
  MW_RETURN_IF_ERROR(Check(crop_scale_max <= 1, "crop_scale_max", crop_scale_max, "must be <= 1"));
  MW_RETURN_IF_ERROR(Check(crop_ratio_min > 0 && crop_ratio_min <= crop_ratio_max, "crop_ratio_min",
                           crop_ratio_min, "must be in (0, crop_ratio_max]"));
  for (auto [name, p] : {std::pair<const char*, double>{"flip_probability", flip_probability},
                         {"jitter_probability", jitter_probability},
                         {"grayscale_probability", grayscale_probability},
                         {"blur_probability", blur_probability}}) {
    MW_RETURN_IF_ERROR(Check(p >= 0 && p <= 1, name, p, "must be in [0, 1]"));
  }
  MW_RETURN_IF_ERROR(
      Check(brightness >= 0 && brightness < 1, "brightness", brightness, "must be in [0, 1)"));
  MW_RETURN_IF_ERROR(
      Check(contrast >= 0 && contrast < 1, "contrast", contrast, "must be in [0, 1)"));
  MW_RETURN_IF_ERROR(
      Check(saturation >= 0 && saturation < 1, "saturation", saturation, "must be in [0, 1)"));
  MW_RETURN_IF_ERROR(Check(hue >= 0 && hue <= 0.5, "hue", hue, "must be in [0, 0.5]"));
  MW_RETURN_IF_ERROR(Check(blur_sigma_min > 0 && blur_sigma_min <= blur_sigma_max, "blur_sigma_min",
                           blur_sigma_min, "must be in (0, blur_sigma_max]"));
  MW_RETURN_IF_ERROR(Check(!mean.empty() && mean.size() == std.size(), "mean size", mean.size(),
                           "must equal std size (one per channel)"));
  for (float s : std) MW_RETURN_IF_ERROR(Check(s > 0, "std", s, "must be > 0"));
  return Status::Ok();
}

}  // namespace mw
