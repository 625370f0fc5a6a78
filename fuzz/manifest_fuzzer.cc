// libFuzzer target: any bytes as a checkpoint manifest. The reader must refuse anything but a
// manifest it wrote (DATA_LOSS, never a crash), and what it accepts must serialise back to
// an equal manifest.
#include <cstddef>
#include <cstdint>
#include <string>

#include "shard_server/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  mw::Manifest manifest;
  const mw::Status status = mw::ParseManifest(text, &manifest);
  if (!status.ok()) {
    if (status.code() != mw::Status::Code::kDataLoss) __builtin_trap();
    return 0;
  }
  mw::Manifest again;
  if (!mw::ParseManifest(mw::SerializeManifest(manifest), &again).ok()) __builtin_trap();
  if (again.pieces.size() != manifest.pieces.size() || again.checkpoint != manifest.checkpoint) {
    __builtin_trap();
  }
  return 0;
}
