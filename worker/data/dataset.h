// Dataset: the images a job trains on, indexed 0..size()-1 (the index is the instance's
// class). Implementations: in-memory grey images (Fashion-MNIST), an image folder decoded on
// demand, and a synthetic set generated from the index. Image() is called from loader
// threads at once, so implementations are safe for concurrent reads.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <opencv2/core/mat.hpp>

#include "common/status.h"

namespace mw {

class Dataset {
 public:
  virtual ~Dataset() = default;

  virtual int64_t size() const = 0;
  virtual int channels() const = 0;  // 1 (grey) or 3 (RGB)
  // Image `index` as CV_8UC1 or CV_8UC3 (RGB); index in [0, size()). An error names the
  // file and what is wrong with it.
  virtual Status Image(int64_t index, cv::Mat* out) const = 0;
  // Image `index` decoded at 1/denominator of its size, for a caller that will shrink it
  // anyway: plan(full size), called once, returns the largest denominator the caller can use
  // (1, 2, 4 or 8), and a JPEG decoder scales in the DCT domain by as much, which costs a
  // fraction of a full decode. Datasets that cannot scale decode whole (denominator 1).
  virtual Status ImageScaled(int64_t index, const std::function<int(cv::Size)>& plan, cv::Mat* out,
                             int* denominator) const {
    MW_RETURN_IF_ERROR(Image(index, out));
    plan(out->size());
    *denominator = 1;
    return Status::Ok();
  }
  // Class label of `index`, or -1 for an unlabelled dataset.
  virtual int64_t Label(int64_t index) const = 0;
  // 0 when unlabelled.
  virtual int64_t num_labels() const = 0;
  virtual std::string Describe() const = 0;
};

// Decoded images smaller than this on a side are refused: nothing is left to crop.
inline constexpr int kMinImageSide = 8;

// INVALID_ARGUMENT naming `what` when `size` is below kMinImageSide on a side.
inline Status CheckImageSize(cv::Size size, const std::string& what) {
  if (size.width >= kMinImageSide && size.height >= kMinImageSide) return Status::Ok();
  return Status::InvalidArgument(
      what + ": " + std::to_string(size.width) + "x" + std::to_string(size.height) +
      " is smaller than " + std::to_string(kMinImageSide) + "x" + std::to_string(kMinImageSide));
}

}  // namespace mw
