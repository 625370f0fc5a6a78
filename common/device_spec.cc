#include "common/device_spec.h"

#include <cctype>

namespace mw {

namespace {
constexpr int kMaxCudaOrdinal = 1023;
}

std::string DeviceSpec::ToString() const {
  if (!cuda) return "cpu";
  return index < 0 ? "cuda" : "cuda:" + std::to_string(index);
}

DeviceSpec BindGpu(DeviceSpec spec, int gpu) {
  if (spec.cuda && spec.index < 0) spec.index = gpu;
  return spec;
}

Status ParseDevice(const std::string& text, DeviceSpec* out) {
  const auto invalid = [&] {
    return Status::InvalidArgument("device '" + text +
                                   "' is not one of: cpu, cuda, cuda:N (N a GPU ordinal < " +
                                   std::to_string(kMaxCudaOrdinal + 1) + ")");
  };
  if (text == "cpu") {
    *out = DeviceSpec{};
    return Status::Ok();
  }
  if (text == "cuda") {
    *out = DeviceSpec{true, -1};
    return Status::Ok();
  }
  const std::string prefix = "cuda:";
  if (text.compare(0, prefix.size(), prefix) != 0) return invalid();
  const std::string digits = text.substr(prefix.size());
  if (digits.empty() || digits.size() > 4) return invalid();
  for (char ch : digits) {
    if (!std::isdigit(static_cast<unsigned char>(ch))) return invalid();
  }
  const int index = std::stoi(digits);
  if (index > kMaxCudaOrdinal) return invalid();
  *out = DeviceSpec{true, index};
  return Status::Ok();
}

}  // namespace mw
