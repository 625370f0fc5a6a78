// How much memory this process may use: the container's limit (cgroup v2 memory.max, or v1
// memory.limit_in_bytes) where one is set, else the machine's physical memory. Kubernetes
// enforces the pod's limit through the cgroup, so that is the figure a job must fit in.
#pragma once

#include <cstdint>

namespace mw {

int64_t UsableMemoryBytes();

}  // namespace mw
