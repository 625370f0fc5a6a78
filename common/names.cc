#include "common/names.h"

#include <cctype>

namespace mw {

namespace {

Status Validate(const std::string& value, const char* what, bool (*allowed)(unsigned char)) {
  if (value.empty() || value.size() > 64) {
    return Status::InvalidArgument(std::string(what) + " must be 1-64 characters, got " +
                                   std::to_string(value.size()));
  }
  for (unsigned char c : value) {
    if (!allowed(c)) {
      return Status::InvalidArgument(std::string(what) + " '" + value +
                                     "' has a character outside the allowed set");
    }
  }
  if (value[0] == '.')
    return Status::InvalidArgument(std::string(what) + " may not start with '.'");
  return Status::Ok();
}

}  // namespace

Status ValidateJobId(const std::string& id) {
  return Validate(id, "job_id",
                  [](unsigned char c) { return std::isalnum(c) != 0 || c == '_' || c == '-'; });
}

Status ValidateTensorName(const std::string& name) {
  return Validate(name, "tensor", [](unsigned char c) {
    return std::islower(c) != 0 || std::isdigit(c) != 0 || c == '_' || c == '.' || c == '-';
  });
}

}  // namespace mw
