// InMemoryDataset: grey images held in one array (Fashion-MNIST), served without copies.
#pragma once

#include <string>

#include "worker/data/dataset.h"
#include "worker/data/fashion_mnist.h"

namespace mw {

class InMemoryDataset : public Dataset {
 public:
  InMemoryDataset(GreyImages images, std::string name)
      : images_(std::move(images)), name_(std::move(name)) {}

  int64_t size() const override { return images_.count; }
  int channels() const override { return 1; }
  Status Image(int64_t index, cv::Mat* out) const override;
  int64_t Label(int64_t index) const override;
  int64_t num_labels() const override { return images_.labels.empty() ? 0 : 10; }
  std::string Describe() const override;

 private:
  GreyImages images_;
  std::string name_;
};

}  // namespace mw
