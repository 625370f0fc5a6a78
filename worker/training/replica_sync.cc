#include "worker/training/replica_sync.h"

#include <ATen/ATen.h>

#include "worker/comm/tensor_buffer.h"

namespace mw {

Status AllReduceTensors(Communicator& comm, const std::vector<at::Tensor>& tensors, double scale) {
  if (tensors.empty()) return Status::Ok();
  std::vector<at::Tensor> parts;
  for (const auto& t : tensors) parts.push_back(t.reshape(-1));
  at::Tensor flat = at::cat(parts);
  MW_RETURN_IF_ERROR(comm.AllReduce(ViewOf(flat), ReduceOp::kSum));
  if (scale != 1.0) flat.mul_(scale);
  int64_t offset = 0;
  for (const auto& t : tensors) {
    t.view(-1).copy_(flat.narrow(0, offset, t.numel()));
    offset += t.numel();
  }
  return Status::Ok();
}

std::vector<at::Tensor> GradientsOf(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> grads;
  for (const auto& p : params) {
    if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
    grads.push_back(p.grad());
  }
  return grads;
}

}  // namespace mw
