#include "worker/training/plain_images.h"

#include <ATen/ATen.h>

namespace mw {

Status PlainImages(const Dataset& data, const Augmenter& augmenter, int64_t first, int64_t count,
                   at::Tensor* out) {
  const int64_t size = augmenter.spec().output_size;
  const int64_t view_floats = augmenter.ViewFloats(data.channels());
  *out = at::empty({count, data.channels(), size, size});
  for (int64_t i = 0; i < count; ++i) {
    cv::Mat image;
    MW_RETURN_IF_ERROR(data.Image(first + i, &image));
    augmenter.Plain(image, out->data_ptr<float>() + i * view_floats);
  }
  return Status::Ok();
}

}  // namespace mw
