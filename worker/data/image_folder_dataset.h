// ImageFolderDataset: JPEG/PNG files in ImageNet's layout, decoded with OpenCV on demand.
//
//   root/<class>/<image>.jpg   labelled: classes are the sub-folders in sorted order
//   root/<image>.png           unlabelled, when root holds images and no sub-folders
//
// Files are listed once, sorted, so instance ids are stable across processes and restarts.
// Decoding happens in Image(), on loader threads; a file that cannot be read or decoded,
// or is smaller than the minimum side, is an error naming the file.
#pragma once

#include <string>
#include <vector>

#include "worker/data/dataset.h"

namespace mw {

class ImageFolderDataset : public Dataset {
 public:
  // NOT_FOUND when root is missing, INVALID_ARGUMENT when it holds no images.
  static Status Open(const std::string& root, std::unique_ptr<ImageFolderDataset>* out);

  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  int channels() const override { return 3; }
  Status Image(int64_t index, cv::Mat* out) const override;
  int64_t Label(int64_t index) const override;
  int64_t num_labels() const override { return static_cast<int64_t>(classes_.size()); }
  std::string Describe() const override;
  const std::string& path(int64_t index) const { return files_[static_cast<size_t>(index)]; }

 private:
  std::string root_;
  std::vector<std::string> classes_;
  std::vector<std::string> files_;  // paths
  std::vector<int64_t> labels_;     // empty when unlabelled
};

}  // namespace mw
