// Datasets beyond Fashion-MNIST (image folder, synthetic) and the threaded batch loader.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "worker/data/batch_loader.h"
#include "worker/data/dataset_spec.h"
#include "worker/data/image_folder_dataset.h"
#include "worker/data/in_memory_dataset.h"
#include "worker/data/synthetic_dataset.h"

namespace mw {
namespace {

namespace fs = std::filesystem;

class ImageFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("mw_folder_" + std::to_string(getpid()));
    fs::create_directories(root_ / "cat");
    fs::create_directories(root_ / "dog");
    Write("cat/a.png", 40, 30, 10);
    Write("cat/b.JPG", 32, 32, 200);
    Write("dog/c.png", 50, 20, 90);
    std::ofstream(root_ / "dog/notes.txt") << "not an image";
  }
  void TearDown() override { fs::remove_all(root_); }

  void Write(const std::string& name, int w, int h, int value) {
    cv::Mat bgr(h, w, CV_8UC3, cv::Scalar(value, value / 2, 255 - value));
    ASSERT_TRUE(cv::imwrite((root_ / name).string(), bgr));
  }

  fs::path root_;
};

TEST_F(ImageFolder, ListsClassesAndDecodesToRgb) {
  std::unique_ptr<ImageFolderDataset> data;
  ASSERT_TRUE(ImageFolderDataset::Open(root_.string(), &data).ok());
  ASSERT_EQ(data->size(), 3);  // notes.txt is not an image
  EXPECT_EQ(data->num_labels(), 2);
  EXPECT_EQ(data->Label(0), 0);
  EXPECT_EQ(data->Label(1), 0);
  EXPECT_EQ(data->Label(2), 1);
  cv::Mat image;
  ASSERT_TRUE(data->Image(0, &image).ok());
  EXPECT_EQ(image.cols, 40);
  EXPECT_EQ(image.rows, 30);
  EXPECT_EQ(image.type(), CV_8UC3);
  const cv::Vec3b rgb = image.at<cv::Vec3b>(0, 0);  // written as BGR (10, 5, 245)
  EXPECT_EQ(rgb[0], 245);
  EXPECT_EQ(rgb[2], 10);
}

TEST_F(ImageFolder, BadFilesAreNamed) {
  std::unique_ptr<ImageFolderDataset> data;
  Write("cat/tiny.png", 4, 4, 0);
  std::ofstream(root_ / "dog/broken.png") << "\x89PNG but truncated";
  ASSERT_TRUE(ImageFolderDataset::Open(root_.string(), &data).ok());
  cv::Mat image;
  Status broken = data->Image(3, &image);  // sorted: dog/broken.png before dog/c.png
  EXPECT_EQ(broken.code(), Status::Code::kDataLoss);
  EXPECT_NE(broken.message().find("broken.png: cannot decode"), std::string::npos)
      << broken.message();
  Status tiny = data->Image(2, &image);
  EXPECT_EQ(tiny.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(tiny.message().find("tiny.png: 4x4 is smaller than 8x8"), std::string::npos)
      << tiny.message();
  fs::remove(root_ / "cat/a.png");
  Status missing = data->Image(0, &image);
  EXPECT_EQ(missing.code(), Status::Code::kNotFound);
  EXPECT_NE(missing.message().find("a.png: file is missing"), std::string::npos);

  std::unique_ptr<ImageFolderDataset> none;
  EXPECT_EQ(ImageFolderDataset::Open((root_ / "absent").string(), &none).code(),
            Status::Code::kNotFound);
  fs::create_directories(root_ / "empty");
  EXPECT_EQ(ImageFolderDataset::Open((root_ / "empty").string(), &none).code(),
            Status::Code::kInvalidArgument);
}

TEST(Synthetic, ImagesArePureFunctionsOfTheIdAndScaleToImageNet21k) {
  SyntheticSpec spec;
  spec.size = 14200000;
  spec.image_size = 16;
  const SyntheticDataset data(spec);
  cv::Mat a, again, b;
  ASSERT_TRUE(data.Image(14199999, &a).ok());
  ASSERT_TRUE(data.Image(14199999, &again).ok());
  ASSERT_TRUE(data.Image(14199989, &b).ok());  // same label, another instance
  EXPECT_EQ(cv::norm(a, again, cv::NORM_INF), 0);
  EXPECT_GT(cv::norm(a, b, cv::NORM_L1), 0);
  EXPECT_EQ(data.Label(14199999), data.Label(14199989));
  EXPECT_EQ(data.Image(spec.size, &a).code(), Status::Code::kOutOfRange);
  spec.image_size = 4;
  EXPECT_NE(spec.Validate().message().find("image_size = 4"), std::string::npos);
}

TEST(BatchLoader, ThreadsChangeNothingButSpeed) {
  SyntheticSpec spec;
  spec.size = 200;
  const SyntheticDataset data(spec);
  AugmentationSpec aug = AugmentationSpec::ImageNet();
  aug.output_size = 24;
  const Augmenter augmenter(aug);
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < 100; ++i) ids.push_back((i * 37) % 200);
  const auto load_all = [&](int threads, int prefetch, int64_t first_step) {
    BatchLoaderOptions options;
    options.threads = threads;
    options.prefetch = prefetch;
    BatchLoader loader(data, augmenter, 7, 3, ids, 10, first_step, options);
    std::vector<ViewBatch> batches;
    while (!loader.done()) {
      ViewBatch batch;
      EXPECT_TRUE(loader.Next(&batch).ok());
      batches.push_back(std::move(batch));
    }
    EXPECT_EQ(loader.Next(&batches.front()).code(), Status::Code::kOutOfRange);
    return batches;
  };
  const auto serial = load_all(1, 1, 0);
  const auto threaded = load_all(4, 3, 0);
  const auto resumed = load_all(2, 8, 6);
  ASSERT_EQ(serial.size(), 10u);
  ASSERT_EQ(threaded.size(), 10u);
  ASSERT_EQ(resumed.size(), 4u);
  for (size_t s = 0; s < serial.size(); ++s) {
    EXPECT_EQ(threaded[s].step, static_cast<int64_t>(s));
    EXPECT_EQ(threaded[s].ids, serial[s].ids);
    EXPECT_EQ(threaded[s].views, serial[s].views);
    ASSERT_EQ(serial[s].views.size(), 2u * 10 * 3 * 24 * 24);
  }
  EXPECT_EQ(resumed[0].step, 6);
  EXPECT_EQ(resumed[0].views, serial[6].views);
  // The two views of an image differ.
  const size_t half = serial[0].views.size() / 2;
  EXPECT_NE(
      std::vector<float>(serial[0].views.begin(), serial[0].views.begin() + 100),
      std::vector<float>(serial[0].views.begin() + half, serial[0].views.begin() + half + 100));
}

TEST(BatchLoader, AnImageThatFailsStopsTheEpochWithItsName) {
  const fs::path root = fs::temp_directory_path() / ("mw_loader_" + std::to_string(getpid()));
  fs::create_directories(root);
  for (int i = 0; i < 4; ++i) {
    cv::imwrite((root / ("img" + std::to_string(i) + ".png")).string(),
                cv::Mat(16, 16, CV_8UC3, cv::Scalar::all(i * 50)));
  }
  std::unique_ptr<ImageFolderDataset> data;
  ASSERT_TRUE(ImageFolderDataset::Open(root.string(), &data).ok());
  EXPECT_EQ(data->num_labels(), 0);
  EXPECT_EQ(data->Label(0), -1);
  std::ofstream(root / "img2.png", std::ios::trunc) << "garbage";
  AugmentationSpec aug = AugmentationSpec::ImageNet();
  aug.output_size = 8;
  const Augmenter augmenter(aug);
  BatchLoader loader(*data, augmenter, 0, 0, {0, 1, 2, 3}, 2, 0, BatchLoaderOptions{});
  ViewBatch batch;
  EXPECT_TRUE(loader.Next(&batch).ok());
  const Status failed = loader.Next(&batch);
  EXPECT_EQ(failed.code(), Status::Code::kDataLoss);
  EXPECT_NE(failed.message().find("img2.png"), std::string::npos) << failed.message();
  fs::remove_all(root);
}

TEST(OpenDatasets, SubsetsAndUnknownKinds) {
  DatasetSpec spec;
  spec.kind = "synthetic";
  spec.synthetic_size = 5000;
  spec.train_subset = 1000;
  std::unique_ptr<Dataset> train, test;
  ASSERT_TRUE(OpenDatasets(spec, 0, {}, &train, &test).ok());
  EXPECT_EQ(train->size(), 1000);
  ASSERT_NE(test, nullptr);
  EXPECT_EQ(test->num_labels(), 10);
  spec.kind = "mnist";
  EXPECT_EQ(OpenDatasets(spec, 0, {}, &train, &test).code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace mw
