#include "worker/model/autocast_scope.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#define MW_DEVICE_GENERIC_AUTOCAST \
  (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4))

namespace mw {

namespace {

bool IsEnabled(c10::DeviceType type) {
#if MW_DEVICE_GENERIC_AUTOCAST
  return at::autocast::is_autocast_enabled(type);
#else
  return type == c10::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

void SetEnabled(c10::DeviceType type, bool enabled) {
#if MW_DEVICE_GENERIC_AUTOCAST
  at::autocast::set_autocast_dtype(type, at::kBFloat16);
  at::autocast::set_autocast_enabled(type, enabled);
#else
  if (type == c10::kCUDA) {
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(enabled);
  } else {
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(enabled);
  }
#endif
}

}  // namespace

AutocastScope::AutocastScope(c10::Device device, bool enabled)
    : type_(device.type()), enabled_(enabled) {
  if (!enabled_) return;
  was_enabled_ = IsEnabled(type_);
  at::autocast::increment_nesting();
  SetEnabled(type_, true);
}

AutocastScope::~AutocastScope() {
  if (!enabled_) return;
  SetEnabled(type_, was_enabled_);
  // The cache holds bf16 copies of the parameters; the optimizer changes them in place after
  // every step, so the copies go when the outermost scope ends (as torch.autocast does).
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
}

}  // namespace mw
