// How a benchmark program ends: 0 on success, else the Status on stderr and exit code 2.
#pragma once

#include <cstdio>

#include "common/status.h"

namespace mw {

inline int ExitStatus(const char* program, const Status& status) {
  if (status.ok()) return 0;
  std::fprintf(stderr, "%s: %s\n", program, status.ToString().c_str());
  return 2;
}

}  // namespace mw
