// DecodeImage: a sample's bytes to pixels. JPEG goes through libjpeg-turbo's TurboJPEG API
// (about twice OpenCV's imdecode on the same files), anything else (PNG) through OpenCV.
#pragma once

#include <string>

#include <opencv2/core/mat.hpp>

#include "common/status.h"

namespace mw {

// channels 1: CV_8UC1 grey; 3: CV_8UC3 RGB. `what` names the sample in errors.
Status DecodeImage(const std::string& bytes, int channels, const std::string& what, cv::Mat* out);

}  // namespace mw
