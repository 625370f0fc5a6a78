// Writes a module's parameters and buffers as a PyTorch state dict: a pickled
// Dict[str, Tensor] that Python's torch.load returns as a plain dict with the module's own
// key names (BatchNorm's num_batches_tracked included), so
// torchvision.models.resnet18().load_state_dict(torch.load(path), strict=True) accepts a
// ResNet exported from here.
#pragma once

#include <string>

#include "common/status.h"

namespace torch::nn {
class Module;
}

namespace mw {

// The pickled state dict's bytes (what a checkpoint stores for `mwctl export`).
std::string StateDictBytes(const torch::nn::Module& module);

// Written to path + ".tmp", fsync'd, then renamed: a reader never sees half a file.
Status ExportStateDict(const torch::nn::Module& module, const std::string& path);

}  // namespace mw
