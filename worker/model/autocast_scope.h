// AutocastScope: the backbone and head run under LibTorch's autocast in bf16 inside it (the
// mixed-precision recipe: convolutions and matrix products in bf16, reductions and BN in
// fp32, parameters and their gradients in fp32). One class hides the two autocast APIs, the
// per-backend one of LibTorch 1.13 (Debian) and the device-generic one of 2.4+.
#pragma once

#include <c10/core/Device.h>

namespace mw {

class AutocastScope {
 public:
  // enabled = false: a no-op, so callers need no branch.
  AutocastScope(c10::Device device, bool enabled);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  c10::DeviceType type_;
  bool enabled_;
  bool was_enabled_ = false;
};

}  // namespace mw
