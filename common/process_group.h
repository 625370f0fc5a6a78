// Runs W copies of a program as real processes on loopback, as the ranks of one job, and
// collects their exit codes (tests, benchmarks and `mwctl train` use it). Each rank gets MW_RANK,
// MW_WORLD_SIZE and MW_STORE_PORT (a free port for the rank-0 rendezvous) in its
// environment. Processes still running at the deadline are killed, so a hung collective
// fails the test instead of hanging it.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace mw {

// A TCP port on 127.0.0.1 that nothing listens on at the time of the call.
int FreeLoopbackPort();

struct RankExit {
  bool exited = false;  // false: killed by a signal (or by the deadline)
  int code = -1;        // exit status when exited
  bool timed_out = false;
};

// Runs `program args...` as ranks 0..world_size-1 with extra environment `env`.
std::vector<RankExit> RunRanks(const std::string& program, const std::vector<std::string>& args,
                               int world_size, const std::map<std::string, std::string>& env,
                               std::chrono::seconds deadline);

// True when every rank exited with status 0.
bool AllSucceeded(const std::vector<RankExit>& exits);

// The path of a program built next to the running binary.
std::string HelperPath(const std::string& name);

}  // namespace mw
