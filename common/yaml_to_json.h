// Job specs may be written in YAML; the API carries JSON. YamlToJson converts one YAML
// document (YAML 1.2 core schema: plain scalars become null, booleans, integers or floats,
// quoted ones stay strings) into JSON text, so one validator serves both. Errors name the
// source and the line.
#pragma once

#include <string>

#include "common/status.h"

namespace mw {

Status YamlToJson(const std::string& yaml, const std::string& source, std::string* json);

}  // namespace mw
