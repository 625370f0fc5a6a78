#include "worker/data/shards/image_decoder.h"

#include <turbojpeg.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace mw {

namespace {

// What a decoder agrees to allocate for one image (a 16k x 16k one): a header may claim
// 65535 x 65535, 12.9 GB of pixels.
constexpr int64_t kMaxPixels = int64_t{1} << 28;

// A TurboJPEG handle per thread: decoders are not thread-safe, and making one per image
// costs more than small images take to decode.
class TurboHandle {
 public:
  TurboHandle() : handle_(tjInitDecompress()) {}
  ~TurboHandle() {
    if (handle_ != nullptr) tjDestroy(handle_);
  }
  tjhandle get() const { return handle_; }

 private:
  tjhandle handle_;
};

bool IsJpeg(const std::string& bytes) {
  return bytes.size() > 3 && static_cast<unsigned char>(bytes[0]) == 0xff &&
         static_cast<unsigned char>(bytes[1]) == 0xd8;
}

Status DecodeWithOpenCv(const std::string& bytes, int channels, const std::string& what,
                        const std::function<int(cv::Size)>& plan, cv::Mat* out, int* denominator) {
  *denominator = 1;
  const cv::Mat raw(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
  // Orientation ignored, as TurboJPEG does: one image's views must not depend on which
  // decoder took it.
  const cv::Mat decoded =
      cv::imdecode(raw, (channels == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR) |
                            cv::IMREAD_IGNORE_ORIENTATION);
  if (decoded.empty()) return Status::DataLoss(what + ": cannot decode the image");
  plan(decoded.size());
  if (channels == 1) {
    *out = decoded;
  } else {
    cv::cvtColor(decoded, *out, cv::COLOR_BGR2RGB);
  }
  return Status::Ok();
}

}  // namespace

Status DecodeImage(const std::string& bytes, int channels, const std::string& what,
                   const std::function<int(cv::Size)>& plan, cv::Mat* out, int* denominator) {
  if (!IsJpeg(bytes)) return DecodeWithOpenCv(bytes, channels, what, plan, out, denominator);
  thread_local TurboHandle handle;
  if (handle.get() == nullptr) return Status::Internal("tjInitDecompress failed");
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(handle.get(), data, bytes.size(), &width, &height, &subsampling,
                          &colorspace) != 0) {
    return Status::DataLoss(what + ": not a JPEG: " + tjGetErrorStr2(handle.get()));
  }
  if (int64_t{width} * height > kMaxPixels) {
    return Status::DataLoss(what + ": " + std::to_string(width) + "x" + std::to_string(height) +
                            " is more than " + std::to_string(kMaxPixels) + " pixels");
  }
  // TurboJPEG turns CMYK and YCCK JPEGs (ImageNet-1K has a few) into CMYK only; OpenCV
  // converts them to RGB.
  if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) {
    return DecodeWithOpenCv(bytes, channels, what, plan, out, denominator);
  }
  int d = plan(cv::Size(width, height));
  d = d >= 8 ? 8 : d >= 4 ? 4 : d >= 2 ? 2 : 1;
  const tjscalingfactor factor{1, d};
  const int scaled_width = TJSCALED(width, factor);
  const int scaled_height = TJSCALED(height, factor);
  cv::Mat pixels(scaled_height, scaled_width, channels == 1 ? CV_8UC1 : CV_8UC3);
  if (tjDecompress2(handle.get(), data, bytes.size(), pixels.data, scaled_width, 0, scaled_height,
                    channels == 1 ? TJPF_GRAY : TJPF_RGB, 0) != 0 &&
      tjGetErrorCode(handle.get()) == TJERR_FATAL) {
    return Status::DataLoss(what + ": cannot decode the JPEG: " + tjGetErrorStr2(handle.get()));
  }
  *out = pixels;
  *denominator = d;
  return Status::Ok();
}

}  // namespace mw
