#include "worker/data/fashion_mnist.h"

#include "worker/data/idx_file.h"

namespace mw {

GreyImages FirstImages(GreyImages all, int64_t count) {
  if (count <= 0 || count >= all.count) return all;
  all.count = count;
  all.pixels.resize(static_cast<size_t>(count * all.height * all.width));
  all.labels.resize(static_cast<size_t>(count));
  return all;
}

Status LoadFashionMnist(const std::string& dir, Split split, GreyImages* out) {
  const std::string prefix = dir + (split == Split::kTrain ? "/train" : "/t10k");
  const std::string image_path = prefix + "-images-idx3-ubyte.gz";
  const std::string label_path = prefix + "-labels-idx1-ubyte.gz";
  IdxArray images, labels;
  MW_RETURN_IF_ERROR(ReadIdxFile(image_path, &images));
  MW_RETURN_IF_ERROR(ReadIdxFile(label_path, &labels));
  if (images.dims.size() != 3) {
    return Status::InvalidArgument(image_path + ": images need 3 dimensions, found " +
                                   std::to_string(images.dims.size()));
  }
  if (labels.dims.size() != 1 || labels.dims[0] != images.dims[0]) {
    return Status::InvalidArgument(label_path + ": " + std::to_string(labels.dims[0]) +
                                   " labels for " + std::to_string(images.dims[0]) + " images");
  }
  out->count = images.dims[0];
  out->height = images.dims[1];
  out->width = images.dims[2];
  out->pixels = std::move(images.data);
  out->labels.resize(labels.data.size());
  for (size_t i = 0; i < labels.data.size(); ++i) {
    if (labels.data[i] > 9) {
      return Status::InvalidArgument(label_path + ": label " + std::to_string(labels.data[i]) +
                                     " of image " + std::to_string(i) + " is not in 0..9");
    }
    out->labels[i] = labels.data[i];
  }
  return Status::Ok();
}

}  // namespace mw
