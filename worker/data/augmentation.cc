#include "worker/data/augmentation.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <opencv2/imgproc.hpp>

namespace mw {

namespace {

// torchvision's RandomResizedCrop: up to 10 tries at an area fraction and a log-uniform
// aspect ratio that fit, else the largest centred crop within the ratio bounds.
cv::Rect SampleCrop(const cv::Size& size, const AugmentationSpec& spec, SplitMix64& rng) {
  const double area = static_cast<double>(size.area());
  const double log_lo = std::log(spec.crop_ratio_min);
  const double log_hi = std::log(spec.crop_ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * rng.Uniform(spec.crop_scale_min, spec.crop_scale_max);
    const double ratio = std::exp(rng.Uniform(log_lo, log_hi));
    const int w = static_cast<int>(std::lround(std::sqrt(target * ratio)));
    const int h = static_cast<int>(std::lround(std::sqrt(target / ratio)));
    if (w > 0 && h > 0 && w <= size.width && h <= size.height) {
      const int x = static_cast<int>(rng.Below(static_cast<uint64_t>(size.width - w + 1)));
      const int y = static_cast<int>(rng.Below(static_cast<uint64_t>(size.height - h + 1)));
      return {x, y, w, h};
    }
  }
  const double in_ratio = static_cast<double>(size.width) / size.height;
  int w = size.width;
  int h = size.height;
  if (in_ratio < spec.crop_ratio_min) {
    h = static_cast<int>(std::lround(w / spec.crop_ratio_min));
  } else if (in_ratio > spec.crop_ratio_max) {
    w = static_cast<int>(std::lround(h * spec.crop_ratio_max));
  }
  return {(size.width - w) / 2, (size.height - h) / 2, w, h};
}

// Blends img towards `other` (a scalar or an image): img * f + other * (1 - f), clamped.
void Blend(cv::Mat& img, const cv::Mat& other, double factor) {
  cv::addWeighted(img, factor, other, 1.0 - factor, 0.0, img);
  cv::min(cv::max(img, 0.0), 1.0, img);
}

cv::Mat GreyOf(const cv::Mat& img) {
  if (img.channels() == 1) return img.clone();
  cv::Mat grey, grey3;
  cv::cvtColor(img, grey, cv::COLOR_RGB2GRAY);
  cv::cvtColor(grey, grey3, cv::COLOR_GRAY2RGB);
  return grey3;
}

void Jitter(cv::Mat& img, const AugmentationSpec& spec, SplitMix64& rng) {
  std::array<int, 4> order{0, 1, 2, 3};
  for (int i = 3; i > 0; --i) std::swap(order[i], order[rng.Below(static_cast<uint64_t>(i) + 1)]);
  for (int op : order) {
    if (op == 0 && spec.brightness > 0) {
      Blend(img, cv::Mat::zeros(img.size(), img.type()),
            rng.Uniform(1 - spec.brightness, 1 + spec.brightness));
    } else if (op == 1 && spec.contrast > 0) {
      const double factor = rng.Uniform(1 - spec.contrast, 1 + spec.contrast);
      const cv::Scalar mean = cv::mean(GreyOf(img));
      Blend(img, cv::Mat(img.size(), img.type(), cv::Scalar::all(mean[0])), factor);
    } else if (op == 2 && spec.saturation > 0 && img.channels() == 3) {
      Blend(img, GreyOf(img), rng.Uniform(1 - spec.saturation, 1 + spec.saturation));
    } else if (op == 3 && spec.hue > 0 && img.channels() == 3) {
      cv::Mat hsv;
      cv::cvtColor(img, hsv, cv::COLOR_RGB2HSV);  // float input: H in [0, 360)
      const double shift = 360.0 * rng.Uniform(-spec.hue, spec.hue);
      std::vector<cv::Mat> planes;
      cv::split(hsv, planes);
      planes[0] += shift;
      planes[0].forEach<float>([](float& h, const int*) { h = std::fmod(h + 360.f, 360.f); });
      cv::merge(planes, hsv);
      cv::cvtColor(hsv, img, cv::COLOR_HSV2RGB);
    }
  }
}

}  // namespace

void Augmenter::View(const cv::Mat& image, SplitMix64& rng, float* out) const {
  ViewOfCrop(image(Crop(image.size(), rng)), rng, out);
}

cv::Rect Augmenter::Crop(cv::Size size, SplitMix64& rng) const {
  return SampleCrop(size, spec_, rng);
}

int Augmenter::Denominator(const cv::Rect* crops, int count) const {
  int smallest = INT32_MAX;
  for (int i = 0; i < count; ++i) smallest = std::min({smallest, crops[i].width, crops[i].height});
  int d = 8;
  while (d > 1 && smallest / d < spec_.output_size) d /= 2;
  return d;
}

cv::Rect Augmenter::ScaledCrop(const cv::Rect& crop, int denominator, cv::Size scaled) {
  const int x = std::min(crop.x / denominator, scaled.width - 1);
  const int y = std::min(crop.y / denominator, scaled.height - 1);
  const int w = std::clamp(crop.width / denominator, 1, scaled.width - x);
  const int h = std::clamp(crop.height / denominator, 1, scaled.height - y);
  return {x, y, w, h};
}

void Augmenter::ViewOfCrop(const cv::Mat& crop, SplitMix64& rng, float* out) const {
  const int size = static_cast<int>(spec_.output_size);
  cv::Mat img;
  cv::resize(crop, img, cv::Size(size, size), 0, 0, cv::INTER_LINEAR);
  img.convertTo(img, CV_32F, 1.0 / 255.0);
  if (rng.Bernoulli(spec_.flip_probability)) cv::flip(img, img, 1);
  if (rng.Bernoulli(spec_.jitter_probability)) Jitter(img, spec_, rng);
  if (rng.Bernoulli(spec_.grayscale_probability)) img = GreyOf(img);
  if (rng.Bernoulli(spec_.blur_probability)) {
    const double sigma = rng.Uniform(spec_.blur_sigma_min, spec_.blur_sigma_max);
    // torchvision's kernel: about a tenth of the image side, odd.
    const int kernel = std::max(3, (size / 10) | 1);
    cv::GaussianBlur(img, img, cv::Size(kernel, kernel), sigma, sigma, cv::BORDER_REFLECT_101);
  }
  Normalise(img, out);
}

void Augmenter::Plain(const cv::Mat& image, float* out) const {
  const int size = static_cast<int>(spec_.output_size);
  cv::Mat img = image;
  if (image.rows != size || image.cols != size) {
    const double scale = static_cast<double>(size) / std::min(image.rows, image.cols);
    const int w = std::max(size, static_cast<int>(std::lround(image.cols * scale)));
    const int h = std::max(size, static_cast<int>(std::lround(image.rows * scale)));
    cv::Mat scaled;
    cv::resize(image, scaled, cv::Size(w, h), 0, 0, scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    img = scaled(cv::Rect((w - size) / 2, (h - size) / 2, size, size));
  }
  cv::Mat unit;
  img.convertTo(unit, CV_32F, 1.0 / 255.0);
  Normalise(unit, out);
}

void Augmenter::Normalise(const cv::Mat& img, float* out) const {
  const int size = static_cast<int>(spec_.output_size);
  const int channels = img.channels();
  std::vector<cv::Mat> planes;
  cv::split(img, planes);
  for (int c = 0; c < channels; ++c) {
    const auto ci = static_cast<size_t>(c) % spec_.mean.size();
    cv::Mat dst(size, size, CV_32F, out + static_cast<size_t>(c) * size * size);
    planes[static_cast<size_t>(c)].convertTo(dst, CV_32F, 1.0 / spec_.std[ci],
                                             -spec_.mean[ci] / spec_.std[ci]);
  }
}

}  // namespace mw
