// Named fault points, after LevelDB's fault-injection environment: places in the services
// where a test can make a process crash, hang or fail on purpose, so that every window of a
// protocol (between two shard commits, between the shard commits and the database write) is
// hit deterministically rather than by the luck of a random kill.
//
// Points are armed only through the environment variable MW_FAULT_POINTS, read once:
//   MW_FAULT_POINTS="coordinator.commit.between_shards=crash,worker.task.TASK_TRAIN=throw:1"
// Actions: crash (SIGKILL to itself: nothing flushed, like kill -9), hang (SIGSTOP to itself,
// like a frozen node; after SIGCONT the point returns OK and the work goes on), block (the calling
// thread sleeps forever while the rest of the process runs on, like a deadlock), sleepMS (the
// calling thread sleeps MS milliseconds, then goes on: a slow disk), error (the point returns
// INTERNAL), throw (it throws std::runtime_error). ":N" fires the point N times, then never again;
// without it, every time. An unarmed point costs a lookup in an empty map.
#pragma once

#include <string>

#include "common/status.h"

namespace mw {

// At the point `name`: crashes, hangs, throws or returns INTERNAL when armed so; else OK.
Status FaultPoint(const std::string& name);

// Replaces what MW_FAULT_POINTS armed with `spec` (same syntax): for tests that run a service
// in their own process, where the environment was read before they began.
void ArmFaultPoints(const std::string& spec);

}  // namespace mw
