// bench/pipeline, our side: two augmented views per image on one core, from Fashion-MNIST
// (28 x 28 grey, the Fashion-MNIST recipe) or from seeded random 256 x 256 colour images
// (the ImageNet recipe at 224). Prints one JSON line: pairs per second.
//
//   pipeline_bench --recipe fashion|imagenet [--pairs 20000]
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <opencv2/core.hpp>
#include <vector>

#include "worker/data/augmentation.h"
#include "worker/data/fashion_mnist.h"

int main(int argc, char** argv) {
  std::string recipe = "fashion";
  int64_t pairs = 20000;
  CLI::App app{"bench/pipeline: augmented two-view pairs per second on one core"};
  app.add_option("--recipe", recipe)->check(CLI::IsMember({"fashion", "imagenet"}));
  app.add_option("--pairs", pairs);
  CLI11_PARSE(app, argc, argv);

  std::vector<cv::Mat> images;
  mw::AugmentationSpec spec;
  if (recipe == "fashion") {
    mw::GreyImages data;
    const mw::Status st = mw::LoadFashionMnist(mw::kFashionMnistDir, mw::Split::kTrain, &data);
    if (!st.ok()) {
      std::fprintf(stderr, "%s\n", st.ToString().c_str());
      return 1;
    }
    for (int64_t i = 0; i < 1000; ++i) {
      images.push_back(cv::Mat(28, 28, CV_8UC1, data.pixels.data() + i * 28 * 28).clone());
    }
    spec = mw::AugmentationSpec::FashionMnist();
  } else {
    cv::RNG rng(1);
    for (int i = 0; i < 64; ++i) {
      cv::Mat img(256, 256, CV_8UC3);
      rng.fill(img, cv::RNG::UNIFORM, 0, 256);
      images.push_back(img);
    }
    spec = mw::AugmentationSpec::ImageNet();
  }
  cv::setNumThreads(1);
  const mw::Augmenter augment(spec);
  const int64_t view_floats =
      static_cast<int64_t>(images[0].channels()) * spec.output_size * spec.output_size;
  std::vector<float> views(2 * static_cast<size_t>(view_floats));
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < pairs; ++i) {
    mw::SplitMix64 rng(mw::MixSeed(0, static_cast<uint64_t>(i)));
    const cv::Mat& image = images[static_cast<size_t>(i) % images.size()];
    augment.View(image, rng, views.data());
    augment.View(image, rng, views.data() + view_floats);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s\n", nlohmann::json{{"recipe", recipe},
                                     {"pairs", pairs},
                                     {"seconds", seconds},
                                     {"pairs_per_s", static_cast<double>(pairs) / seconds}}
                          .dump()
                          .c_str());
  return 0;
}
