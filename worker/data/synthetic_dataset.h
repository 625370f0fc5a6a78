// SyntheticDataset: image i is generated from (seed, i) whenever it is asked for, so a job
// can have 14.2M instances (ImageNet-21K's count) with no storage. Each image is a coloured
// grating whose orientation is its label (i mod num_labels) and whose frequency, phase,
// tint and noise are drawn from the instance's own seed: instances differ, labels are
// learnable, and the kNN monitor and linear probe have something to find.
#pragma once

#include "worker/data/dataset.h"

namespace mw {

struct SyntheticSpec {
  int64_t size = 100000;
  int image_size = 32;
  int64_t num_labels = 10;
  uint64_t seed = 0;

  Status Validate() const;
};

class SyntheticDataset : public Dataset {
 public:
  explicit SyntheticDataset(const SyntheticSpec& spec) : spec_(spec) {}

  int64_t size() const override { return spec_.size; }
  int channels() const override { return 3; }
  Status Image(int64_t index, cv::Mat* out) const override;
  int64_t Label(int64_t index) const override { return index % spec_.num_labels; }
  int64_t num_labels() const override { return spec_.num_labels; }
  std::string Describe() const override;

 private:
  SyntheticSpec spec_;
};

}  // namespace mw
