#include "worker/model/state_dict_export.h"

#include <torch/nn/module.h>
#include <torch/serialize.h>

#include "common/durable_file.h"

namespace mw {

std::string StateDictBytes(const torch::nn::Module& module) {
  // Host tensors, so the file loads without a GPU (torch.load needs no map_location).
  c10::Dict<std::string, at::Tensor> state;
  for (const auto& p : module.named_parameters()) state.insert(p.key(), p.value().detach().cpu());
  for (const auto& b : module.named_buffers()) state.insert(b.key(), b.value().detach().cpu());
  const std::vector<char> bytes = torch::pickle_save(state);
  return std::string(bytes.begin(), bytes.end());
}

Status ExportStateDict(const torch::nn::Module& module, const std::string& path) {
  return WriteFileAtomically(path, StateDictBytes(module));
}

}  // namespace mw
