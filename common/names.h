// Names that become paths on a server's disk (job ids, tensor names) are checked against a
// strict alphabet before use, so no request can reach outside its job's directory.
#pragma once

#include <string>

#include "common/status.h"

namespace mw {

// Job ids: 1-64 of [A-Za-z0-9_-].
Status ValidateJobId(const std::string& id);

// Tensor (piece) names: 1-64 of [a-z0-9_.-], not starting with '.'.
Status ValidateTensorName(const std::string& name);

}  // namespace mw
