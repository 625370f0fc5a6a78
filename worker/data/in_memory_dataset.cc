#include "worker/data/in_memory_dataset.h"

namespace mw {

Status InMemoryDataset::Image(int64_t index, cv::Mat* out) const {
  if (index < 0 || index >= images_.count) {
    return Status::OutOfRange(name_ + ": image " + std::to_string(index) + " of " +
                              std::to_string(images_.count));
  }
  const int64_t pixels = images_.height * images_.width;
  // A read-only header over the array: callers crop and resize into new images.
  *out = cv::Mat(static_cast<int>(images_.height), static_cast<int>(images_.width), CV_8UC1,
                 const_cast<uint8_t*>(images_.pixels.data()) + index * pixels);
  return Status::Ok();
}

int64_t InMemoryDataset::Label(int64_t index) const {
  return images_.labels.empty() ? -1 : images_.labels[static_cast<size_t>(index)];
}

std::string InMemoryDataset::Describe() const {
  return name_ + " (" + std::to_string(images_.count) + " images, " +
         std::to_string(images_.height) + "x" + std::to_string(images_.width) + " grey)";
}

}  // namespace mw
