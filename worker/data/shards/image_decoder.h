// DecodeImage: a sample's bytes to pixels. JPEGs go through libjpeg-turbo's TurboJPEG API,
// which can decode them scaled down in the DCT domain; anything else (PNG, CMYK JPEGs)
// through OpenCV, both ignoring EXIF orientation (cv::imread applies it): training crops and
// flips at random anyway.
#pragma once

#include <functional>
#include <string>

#include <opencv2/core/mat.hpp>

#include "common/status.h"

namespace mw {

// channels 1: CV_8UC1 grey; 3: CV_8UC3 RGB. `what` names the sample in errors. plan(full
// size) returns the largest denominator (1, 2, 4, 8) the caller accepts; JPEGs are decoded
// scaled by it (in the DCT domain), other formats whole. *denominator: the one used.
Status DecodeImage(const std::string& bytes, int channels, const std::string& what,
                   const std::function<int(cv::Size)>& plan, cv::Mat* out, int* denominator);

}  // namespace mw
