// PlainImages: a batch of un-augmented images as the network's input tensor, for feature
// extraction, the contrastive prior and evaluation.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "common/status.h"
#include "worker/data/augmentation.h"
#include "worker/data/dataset.h"

namespace mw {

// Images [first, first + count) of `data` through augmenter.Plain(): [count, C, S, S].
Status PlainImages(const Dataset& data, const Augmenter& augmenter, int64_t first, int64_t count,
                   at::Tensor* out);

}  // namespace mw
