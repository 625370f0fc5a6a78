// libFuzzer target: any bytes as a job spec. The parser must refuse bad input with a Status
// (never crash, hang or read out of bounds), and a spec it accepts must re-validate.
#include <cstddef>
#include <cstdint>
#include <string>

#include "worker/training/job_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  mw::JobSpec spec;
  const mw::Status status = mw::ParseJobSpec(text, "fuzz.json", &spec);
  if (status.ok()) {
    if (!spec.trainer.augmentation.Validate().ok()) __builtin_trap();
    if (spec.trainer.epochs < 1 || spec.trainer.local_batch < 1) __builtin_trap();
  } else if (status.message().rfind("fuzz.json", 0) != 0) {
    __builtin_trap();  // every error names the file
  }
  return 0;
}
