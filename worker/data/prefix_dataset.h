// PrefixDataset: the first n images of another dataset (a spec's train_subset, the
// evaluation's bank of training images).
#pragma once

#include <algorithm>
#include <memory>
#include <string>

#include "worker/data/dataset.h"

namespace mw {

class PrefixDataset final : public Dataset {
 public:
  // A view of base's first min(n, base.size()) images; base must outlive it.
  PrefixDataset(const Dataset& base, int64_t n) : base_(&base), n_(std::min(n, base.size())) {}
  // The same, owning base.
  PrefixDataset(std::unique_ptr<Dataset> base, int64_t n) : PrefixDataset(*base, n) {
    owned_ = std::move(base);
  }

  int64_t size() const override { return n_; }
  int channels() const override { return base_->channels(); }
  Status Image(int64_t index, cv::Mat* out) const override {
    MW_RETURN_IF_ERROR(CheckIndex(index));
    return base_->Image(index, out);
  }
  Status ImageScaled(int64_t index, const std::function<int(cv::Size)>& plan, cv::Mat* out,
                     int* denominator) const override {
    MW_RETURN_IF_ERROR(CheckIndex(index));
    return base_->ImageScaled(index, plan, out, denominator);
  }
  int64_t Label(int64_t index) const override { return base_->Label(index); }
  int64_t num_labels() const override { return base_->num_labels(); }
  std::string Describe() const override {
    return "the first " + std::to_string(n_) + " images of " + base_->Describe();
  }

 private:
  Status CheckIndex(int64_t index) const {
    if (index < n_) return Status::Ok();
    return Status::OutOfRange("image " + std::to_string(index) + " of " + std::to_string(n_));
  }

  const Dataset* base_;
  std::unique_ptr<Dataset> owned_;
  int64_t n_;
};

}  // namespace mw
