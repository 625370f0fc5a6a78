// Packed datasets on a local volume: what is packed reads back pixel for pixel, and a
// corrupt or truncated shard is an error naming it, from the reader and from the check.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/durable_file.h"
#include "common/split_mix.h"
#include "worker/data/fashion_mnist.h"
#include "worker/data/image_folder_dataset.h"
#include "worker/data/shards/shard_check.h"
#include "worker/data/shards/shard_dataset.h"
#include "worker/data/shards/shard_writer.h"

namespace mw {
namespace {

namespace fs = std::filesystem;

class ShardDatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("mw_shards_" + std::to_string(getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  // n JPEGs of ImageNet's typical size (500 x 375, quality 90) in `classes` class folders.
  std::string MakeJpegFolder(int n, int classes) {
    const fs::path dir = root_ / "images";
    SplitMix64 rng(7);
    for (int i = 0; i < n; ++i) {
      const fs::path class_dir = dir / ("class" + std::to_string(i % classes));
      fs::create_directories(class_dir);
      cv::Mat image(375, 500, CV_8UC3);
      cv::randu(image, cv::Scalar::all(0), cv::Scalar::all(255));
      cv::GaussianBlur(image, image, cv::Size(5, 5), 1.5);
      cv::circle(image, {static_cast<int>(rng.Below(500)), static_cast<int>(rng.Below(375))}, 60,
                 cv::Scalar(255, 0, 0), -1);
      cv::imwrite((class_dir / (std::to_string(i) + ".jpg")).string(), image,
                  {cv::IMWRITE_JPEG_QUALITY, 90});
    }
    return dir.string();
  }

  std::string PackFolder(const std::string& from, uint64_t shard_bytes) {
    std::unique_ptr<ImageFolderDataset> folder;
    EXPECT_TRUE(ImageFolderDataset::Open(from, &folder).ok());
    const std::string out = (root_ / "packed").string();
    ShardWriterOptions options;
    options.shard_bytes = shard_bytes;
    options.labels = folder->num_labels();
    std::unique_ptr<ShardWriter> writer;
    EXPECT_TRUE(ShardWriter::Create(out, options, &writer).ok());
    for (int64_t i = 0; i < folder->size(); ++i) {
      std::string bytes;
      EXPECT_TRUE(ReadFile(folder->path(i), &bytes).ok());
      EXPECT_TRUE(writer->Add(bytes, "jpg", folder->Label(i)).ok());
    }
    EXPECT_TRUE(writer->Finish().ok());
    return out;
  }

  fs::path root_;
};

TEST_F(ShardDatasetTest, JpegsReadBackAsOpenCvDecodesThem) {
  const std::string folder_dir = MakeJpegFolder(24, 3);
  const std::string packed = PackFolder(folder_dir, 1 << 20);
  std::unique_ptr<ImageFolderDataset> folder;
  ASSERT_TRUE(ImageFolderDataset::Open(folder_dir, &folder).ok());
  std::unique_ptr<ShardDataset> shards;
  const Status opened = ShardDataset::Open(packed, {}, &shards);
  ASSERT_TRUE(opened.ok()) << opened.ToString();
  ASSERT_EQ(shards->size(), 24);
  EXPECT_GT(shards->manifest().shards.size(), 1u) << "images of ~100 KB, shards of 1 MiB";
  EXPECT_EQ(shards->num_labels(), 3);
  for (int64_t i = 0; i < shards->size(); ++i) {
    cv::Mat expected, got;
    ASSERT_TRUE(folder->Image(i, &expected).ok());
    const Status read = shards->Image(i, &got);
    ASSERT_TRUE(read.ok()) << read.ToString();
    ASSERT_EQ(got.size(), expected.size());
    EXPECT_EQ(cv::norm(got, expected, cv::NORM_INF), 0) << "sample " << i;
    EXPECT_EQ(shards->Label(i), folder->Label(i));
  }
  ShardCheckReport report;
  const Status checked = CheckShards(packed, {}, &report);
  ASSERT_TRUE(checked.ok()) << checked.ToString();
  EXPECT_EQ(report.samples, 24);
  std::unique_ptr<ShardWriter> again;
  EXPECT_EQ(ShardWriter::Create(packed, {}, &again).code(), Status::Code::kFailedPrecondition);
}

TEST_F(ShardDatasetTest, JpegsDecodeScaledInTheDctDomainWhenAskedTo) {
  const std::string folder_dir = MakeJpegFolder(2, 1);
  const std::string packed = PackFolder(folder_dir, 1 << 20);
  std::unique_ptr<ShardDataset> shards;
  ASSERT_TRUE(ShardDataset::Open(packed, {}, &shards).ok());
  cv::Mat full, half;
  ASSERT_TRUE(shards->Image(0, &full).ok());
  cv::Size planned_for;
  int denominator = 0;
  ASSERT_TRUE(shards
                  ->ImageScaled(
                      0,
                      [&](cv::Size size) {
                        planned_for = size;
                        return 2;
                      },
                      &half, &denominator)
                  .ok());
  EXPECT_EQ(planned_for, cv::Size(500, 375));
  EXPECT_EQ(denominator, 2);
  ASSERT_EQ(half.size(), cv::Size(250, 188));  // rounded up, as libjpeg does
  cv::Mat other, shrunk, other_shrunk;
  ASSERT_TRUE(shards->Image(1, &other).ok());
  cv::resize(full, shrunk, half.size(), 0, 0, cv::INTER_AREA);
  cv::resize(other, other_shrunk, half.size(), 0, 0, cv::INTER_AREA);
  const auto mean_difference = [](const cv::Mat& a, const cv::Mat& b) {
    return cv::norm(a, b, cv::NORM_L1) / static_cast<double>(a.total() * a.channels());
  };
  // The test images are noise, where the DCT's and OpenCV's filters differ most.
  EXPECT_LT(mean_difference(half, shrunk), 8.0);
  EXPECT_LT(3 * mean_difference(half, shrunk), mean_difference(half, other_shrunk));
}

TEST_F(ShardDatasetTest, FashionMnistReadsBackPixelForPixel) {
  GreyImages images;
  ASSERT_TRUE(LoadFashionMnist(kFashionMnistDir, Split::kTest, &images).ok());
  images = FirstImages(std::move(images), 300);
  ShardWriterOptions options;
  options.channels = 1;
  options.labels = 10;
  std::unique_ptr<ShardWriter> writer;
  const std::string out = (root_ / "fmnist").string();
  ASSERT_TRUE(ShardWriter::Create(out, options, &writer).ok());
  const int pixels = static_cast<int>(images.height * images.width);
  for (int64_t i = 0; i < images.count; ++i) {
    std::vector<uchar> png;
    cv::imencode(".png", cv::Mat(28, 28, CV_8UC1, images.pixels.data() + i * pixels), png);
    ASSERT_TRUE(writer->Add(std::string(png.begin(), png.end()), "png", images.labels[i]).ok());
  }
  ASSERT_TRUE(writer->Finish().ok());
  std::unique_ptr<ShardDataset> shards;
  ASSERT_TRUE(ShardDataset::Open(out, {}, &shards).ok());
  EXPECT_EQ(shards->channels(), 1);
  for (int64_t i = 0; i < images.count; ++i) {
    cv::Mat got;
    ASSERT_TRUE(shards->Image(i, &got).ok());
    ASSERT_EQ(got.type(), CV_8UC1);
    EXPECT_EQ(0, std::memcmp(got.data, images.pixels.data() + i * pixels, pixels)) << i;
    EXPECT_EQ(shards->Label(i), images.labels[i]);
  }
}

TEST_F(ShardDatasetTest, ACorruptOrTruncatedShardIsNamed) {
  const std::string packed = PackFolder(MakeJpegFolder(12, 2), 1 << 20);
  std::unique_ptr<ShardDataset> shards;
  ASSERT_TRUE(ShardDataset::Open(packed, {}, &shards).ok());
  const SampleLocation victim = shards->index()[5];
  const std::string shard = shards->manifest().shards[victim.shard].name;
  {
    std::fstream f(packed + "/" + shard, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(victim.offset() + victim.size / 2));
    f.put('\x5a');
  }
  cv::Mat image;
  Status read = shards->Image(5, &image);
  EXPECT_EQ(read.code(), Status::Code::kDataLoss);
  EXPECT_NE(read.message().find(shard), std::string::npos) << read.ToString();
  ShardCheckReport report;
  Status checked = CheckShards(packed, {}, &report);
  EXPECT_EQ(checked.code(), Status::Code::kDataLoss);
  EXPECT_NE(checked.message().find(shard), std::string::npos) << checked.ToString();

  fs::resize_file(packed + "/" + shard, victim.offset() + 10);
  read = shards->Image(5, &image);
  EXPECT_EQ(read.code(), Status::Code::kDataLoss);
  EXPECT_NE(read.message().find("ends at byte"), std::string::npos) << read.ToString();
  checked = CheckShards(packed, {}, &report);
  EXPECT_EQ(checked.code(), Status::Code::kDataLoss);
  EXPECT_NE(checked.message().find(shard), std::string::npos) << checked.ToString();
}

TEST_F(ShardDatasetTest, AManifestThatDisagreesIsRefusedByName) {
  const std::string packed = PackFolder(MakeJpegFolder(4, 2), 1 << 20);
  std::string text;
  ASSERT_TRUE(ReadFile(packed + "/manifest.json", &text).ok());
  const size_t at = text.find("\"samples\": 4");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 12, "\"samples\": 5");
  ASSERT_TRUE(WriteFileAtomically(packed + "/manifest.json", text).ok());
  std::unique_ptr<ShardDataset> shards;
  const Status opened = ShardDataset::Open(packed, {}, &shards);
  EXPECT_EQ(opened.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(opened.message().find("manifest.json"), std::string::npos) << opened.ToString();
  EXPECT_EQ(ShardDataset::Open(packed + "/absent", {}, &shards).code(), Status::Code::kNotFound);
  EXPECT_EQ(ShardDataset::Open("ftp://host/x", {}, &shards).code(), Status::Code::kInvalidArgument);
  const Status no_endpoint = ShardDataset::Open("s3://bucket/x", {}, &shards);
  EXPECT_NE(no_endpoint.message().find("MW_S3_ENDPOINT"), std::string::npos);
}

}  // namespace
}  // namespace mw
