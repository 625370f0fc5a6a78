// Capacity plan: what a job needs of its cluster, from the engine's own arithmetic
// (EstimateClassifierMemory) and the checkpoint layout, before anything runs: the classifier
// memory of each worker, the bytes of one checkpoint's classifier, and the disk each shard
// server needs. `mwctl plan` prints it; docs/deploy.md's sizing table is its output.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "worker/training/job_spec.h"

namespace mw {

struct CapacityPlanOptions {
  int workers = 1;
  int64_t instances = 0;  // 0: from the spec (a synthetic set's size, or train_subset)
  int shard_servers = 1;
  int keep_checkpoints = 2;
};

// The plan as text; INVALID_ARGUMENT naming the flag when the instance count is unknown
// (an image folder's size is known only once a worker lists it).
Status CapacityPlan(const JobSpec& spec, const CapacityPlanOptions& options, std::string* out);

}  // namespace mw
