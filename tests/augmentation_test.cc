// Augmentation: determinism by seed, identity when every transform is off, each transform
// doing what it says, and spec validation.
#include <gtest/gtest.h>

#include <cmath>
#include <opencv2/core.hpp>
#include <vector>

#include "worker/data/augmentation.h"
#include "worker/data/fashion_mnist.h"

namespace mw {
namespace {

AugmentationSpec Identity(int64_t size, std::vector<float> mean, std::vector<float> std) {
  AugmentationSpec spec;
  spec.output_size = size;
  spec.crop_scale_min = spec.crop_scale_max = 1.0;
  spec.crop_ratio_min = spec.crop_ratio_max = 1.0;
  spec.flip_probability = spec.jitter_probability = 0;
  spec.grayscale_probability = spec.blur_probability = 0;
  spec.mean = std::move(mean);
  spec.std = std::move(std);
  return spec;
}

cv::Mat FirstFashionImage() {
  GreyImages images;
  EXPECT_TRUE(LoadFashionMnist(kFashionMnistDir, Split::kTest, &images).ok());
  return cv::Mat(28, 28, CV_8UC1, images.pixels.data()).clone();
}

TEST(Augmentation, SameSeedSameViewOtherSeedOtherView) {
  const cv::Mat image = FirstFashionImage();
  Augmenter augment(AugmentationSpec::FashionMnist());
  ASSERT_TRUE(augment.spec().Validate().ok());
  std::vector<float> a(28 * 28), b(28 * 28), c(28 * 28);
  SplitMix64 r1(MixSeed(1, 2, 3)), r2(MixSeed(1, 2, 3)), r3(MixSeed(1, 2, 4));
  augment.View(image, r1, a.data());
  augment.View(image, r2, b.data());
  augment.View(image, r3, c.data());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  for (float v : a) EXPECT_TRUE(std::isfinite(v));
}

TEST(Augmentation, AllOffIsNormalisationOnly) {
  const cv::Mat image = FirstFashionImage();
  Augmenter augment(Identity(28, {0.5f}, {0.25f}));
  std::vector<float> out(28 * 28);
  SplitMix64 rng(9);
  augment.View(image, rng, out.data());
  for (int i = 0; i < 28 * 28; ++i) {
    ASSERT_NEAR(out[i], (image.data[i] / 255.0 - 0.5) / 0.25, 1e-5) << i;
  }
}

TEST(Augmentation, FlipMirrorsTheImage) {
  const cv::Mat image = FirstFashionImage();
  AugmentationSpec spec = Identity(28, {0.f}, {1.f});
  spec.flip_probability = 1;
  std::vector<float> out(28 * 28);
  SplitMix64 rng(9);
  Augmenter(spec).View(image, rng, out.data());
  for (int y = 0; y < 28; ++y) {
    for (int x = 0; x < 28; ++x) {
      ASSERT_NEAR(out[y * 28 + x], image.at<uint8_t>(y, 27 - x) / 255.0, 1e-6);
    }
  }
}

TEST(Augmentation, ColourImageWithEveryTransformStaysInRange) {
  cv::Mat image(40, 60, CV_8UC3);
  cv::randu(image, 0, 256);
  AugmentationSpec spec = AugmentationSpec::ImageNet();
  spec.output_size = 32;
  spec.jitter_probability = spec.grayscale_probability = spec.blur_probability = 1;
  Augmenter augment(spec);
  std::vector<float> out(3 * 32 * 32);
  for (uint64_t seed = 0; seed < 20; ++seed) {
    SplitMix64 rng(seed);
    augment.View(image, rng, out.data());
    for (size_t i = 0; i < out.size(); ++i) {
      const size_t c = i / (32 * 32);
      const float lo = (0 - spec.mean[c]) / spec.std[c] - 1e-4f;
      const float hi = (1 - spec.mean[c]) / spec.std[c] + 1e-4f;
      ASSERT_TRUE(out[i] >= lo && out[i] <= hi) << "seed " << seed << " value " << out[i];
    }
    // Grayscale at probability 1: the three planes carry the same grey, up to normalisation.
    const float g0 = out[0] * spec.std[0] + spec.mean[0];
    const float g1 = out[32 * 32] * spec.std[1] + spec.mean[1];
    EXPECT_NEAR(g0, g1, 1e-5);
  }
}

TEST(Augmentation, InvalidSpecNamesTheField) {
  AugmentationSpec spec;
  spec.crop_scale_min = 0.9;
  spec.crop_scale_max = 0.5;
  Status s = spec.Validate();
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("crop_scale_min = 0.9"), std::string::npos) << s.message();
  spec = AugmentationSpec();
  spec.blur_probability = 1.5;
  EXPECT_NE(spec.Validate().message().find("blur_probability = 1.5"), std::string::npos);
  spec = AugmentationSpec();
  spec.std = {1.f};
  EXPECT_NE(spec.Validate().message().find("mean size"), std::string::npos);
}

}  // namespace
}  // namespace mw
