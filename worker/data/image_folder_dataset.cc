#include "worker/data/image_folder_dataset.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace mw {

namespace {

namespace fs = std::filesystem;

bool IsImageFile(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

std::vector<fs::path> SortedEntries(const fs::path& dir, bool directories) {
  std::vector<fs::path> entries;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (directories ? entry.is_directory() : (entry.is_regular_file() && IsImageFile(entry.path())))
      entries.push_back(entry.path());
  }
  std::sort(entries.begin(), entries.end());
  return entries;
}

}  // namespace

Status ImageFolderDataset::Open(const std::string& root, std::unique_ptr<ImageFolderDataset>* out) {
  std::error_code error;
  if (!fs::is_directory(root, error)) {
    return Status::NotFound(root + ": not a directory");
  }
  auto dataset = std::make_unique<ImageFolderDataset>();
  dataset->root_ = root;
  try {
    const std::vector<fs::path> class_dirs = SortedEntries(root, true);
    if (class_dirs.empty()) {
      for (const auto& file : SortedEntries(root, false)) dataset->files_.push_back(file.string());
    }
    for (const auto& dir : class_dirs) {
      const auto label = static_cast<int64_t>(dataset->classes_.size());
      dataset->classes_.push_back(dir.filename().string());
      for (const auto& file : SortedEntries(dir, false)) {
        dataset->files_.push_back(file.string());
        dataset->labels_.push_back(label);
      }
    }
  } catch (const fs::filesystem_error& e) {
    return Status::NotFound(root + ": " + e.what());
  }
  if (dataset->files_.empty()) {
    return Status::InvalidArgument(root + ": no .jpg, .jpeg or .png images");
  }
  *out = std::move(dataset);
  return Status::Ok();
}

Status ImageFolderDataset::Image(int64_t index, cv::Mat* out) const {
  if (index < 0 || index >= size()) {
    return Status::OutOfRange(root_ + ": image " + std::to_string(index) + " of " +
                              std::to_string(size()));
  }
  const std::string& path = files_[static_cast<size_t>(index)];
  std::error_code error;
  if (!fs::is_regular_file(path, error)) return Status::NotFound(path + ": file is missing");
  const cv::Mat bgr = cv::imread(path, cv::IMREAD_COLOR);
  if (bgr.empty()) return Status::DataLoss(path + ": cannot decode the image");
  MW_RETURN_IF_ERROR(CheckImageSize(bgr.size(), path));
  cv::cvtColor(bgr, *out, cv::COLOR_BGR2RGB);
  return Status::Ok();
}

int64_t ImageFolderDataset::Label(int64_t index) const {
  return labels_.empty() ? -1 : labels_[static_cast<size_t>(index)];
}

std::string ImageFolderDataset::Describe() const {
  return "image folder " + root_ + " (" + std::to_string(files_.size()) + " images, " +
         std::to_string(classes_.size()) + " classes)";
}

}  // namespace mw
