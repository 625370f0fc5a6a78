// libFuzzer target: any bytes as a YAML job spec. The YAML reader must refuse bad input with a
// Status naming the file (never crash, hang or recurse without bound, aliases included), and
// JSON it produces must parse as JSON, whatever the spec parser then makes of it.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "common/yaml_to_json.h"
#include "worker/training/job_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string json;
  const mw::Status status = mw::YamlToJson(text, "fuzz.yaml", &json);
  if (!status.ok()) {
    if (status.message().rfind("fuzz.yaml", 0) != 0) __builtin_trap();
    return 0;
  }
  if (!nlohmann::json::accept(json)) __builtin_trap();
  mw::JobSpec spec;
  mw::ParseJobSpec(json, "fuzz.yaml", &spec);
  return 0;
}
