// data_bench: one core's rate on a packed dataset (or an image folder), printed as JSON for
// bench/data/run.py:
//   --mode crop      decode + one 224 x 224 random resized crop per image, the JPEG decoded
//                    at the DCT scale the crop allows (--full-decode: decoded whole)
//   --mode pipeline  the training loader: two augmented views per image (BatchLoader, one
//                    thread), from shards (--location) or an image folder (--folder)
//   --mode stream    every shard read through and verified (mwctl dataset check's reader)
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <opencv2/imgproc.hpp>

#include "common/split_mix.h"
#include "worker/data/augmentation.h"
#include "worker/data/batch_loader.h"
#include "worker/data/image_folder_dataset.h"
#include "worker/data/shards/shard_check.h"
#include "worker/data/shards/shard_dataset.h"

namespace mw {
namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

Status Crop(const Dataset& data, int64_t images, bool full_decode, double* rate) {
  const Augmenter augmenter(AugmentationSpec::ImageNet());
  const int size = static_cast<int>(augmenter.spec().output_size);
  auto start = std::chrono::steady_clock::now();
  // The first kWarmUp images are not timed: the first pass pays for page faults and caches.
  constexpr int64_t kWarmUp = 64;
  for (int64_t i = -kWarmUp; i < images; ++i) {
    if (i == 0) start = std::chrono::steady_clock::now();
    SplitMix64 rng(static_cast<uint64_t>(i));
    cv::Rect crop;
    cv::Mat image, out;
    int denominator = 1;
    MW_RETURN_IF_ERROR(data.ImageScaled((i + kWarmUp) % data.size(),
                                        [&](cv::Size full) {
                                          crop = augmenter.Crop(full, rng);
                                          return full_decode ? 1 : augmenter.Denominator(&crop, 1);
                                        },
                                        &image, &denominator));
    cv::resize(image(Augmenter::ScaledCrop(crop, denominator, image.size())), out,
               cv::Size(size, size), 0, 0, cv::INTER_LINEAR);
  }
  *rate = images / Seconds(start);
  return Status::Ok();
}

Status Pipeline(const Dataset& data, int64_t images, double* rate) {
  const Augmenter augmenter(AugmentationSpec::ImageNet());
  constexpr int64_t kBatch = 16;
  images = std::max(2 * kBatch, images / kBatch * kBatch);
  std::vector<int64_t> ids(static_cast<size_t>(images));
  for (int64_t i = 0; i < images; ++i) ids[static_cast<size_t>(i)] = i % data.size();
  BatchLoaderOptions options;
  options.threads = 1;
  options.prefetch = 1;
  // Step 0 is not timed: the first pass pays for page faults and caches.
  BatchLoader loader(data, augmenter, 1, 0, ids, kBatch, 0, options);
  ViewBatch batch;
  MW_RETURN_IF_ERROR(loader.Next(&batch));
  const auto start = std::chrono::steady_clock::now();
  while (!loader.done()) MW_RETURN_IF_ERROR(loader.Next(&batch));
  images -= kBatch;
  *rate = images / Seconds(start);
  return Status::Ok();
}

}  // namespace
}  // namespace mw

int main(int argc, char** argv) {
  std::string mode = "crop", location, folder;
  int64_t images = 400;
  bool full_decode = false;
  CLI::App app{"data_bench: one core's decode, augmentation and read rates"};
  app.add_option("--mode", mode)->check(CLI::IsMember({"crop", "pipeline", "stream"}));
  app.add_option("--location", location, "a packed dataset");
  app.add_option("--folder", folder, "an image folder instead");
  app.add_option("--images", images);
  app.add_flag("--full-decode", full_decode);
  CLI11_PARSE(app, argc, argv);
  mw::Status s;
  double rate = 0;
  if (mode == "stream") {
    mw::ShardCheckReport report;
    s = mw::CheckShards(location, {}, &report);
    rate = report.bytes / 1e6 / report.seconds;
  } else {
    std::unique_ptr<mw::ShardDataset> shards;
    std::unique_ptr<mw::ImageFolderDataset> files;
    s = folder.empty() ? mw::ShardDataset::Open(location, {}, &shards)
                       : mw::ImageFolderDataset::Open(folder, &files);
    const mw::Dataset* data = shards ? static_cast<mw::Dataset*>(shards.get()) : files.get();
    if (s.ok()) {
      s = mode == "crop" ? mw::Crop(*data, images, full_decode, &rate)
                         : mw::Pipeline(*data, images, &rate);
    }
  }
  if (!s.ok()) {
    std::fprintf(stderr, "data_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("{\"mode\": \"%s\", \"rate\": %.2f}\n", mode.c_str(), rate);
  return 0;
}
