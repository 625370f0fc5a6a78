// mwctl: millionway's command line. For now one command:
//   mwctl train --spec FILE [--workers W]
// validates the job spec, then runs the job on W local processes over loopback (Gloo) and
// relays rank 0's progress. The service commands (submit, watch, local, ...) come with the
// coordinator. mwctl itself does not link LibTorch.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <thread>

#include "common/process_group.h"
#include "worker/training/job_spec.h"

int main(int argc, char** argv) {
  CLI::App app{"mwctl: millionway's command line"};
  app.require_subcommand(1);
  std::string spec_path;
  int workers = 2;
  int timeout_minutes = 120;
  CLI::App* train = app.add_subcommand("train", "run a job on local processes");
  train->add_option("--spec", spec_path, "job spec (JSON)")->required();
  train->add_option("--workers", workers, "ranks (processes)")
      ->envname("MW_WORKERS")
      ->check(CLI::Range(1, 64));
  train->add_option("--timeout-minutes", timeout_minutes, "stop the job after this long");
  CLI11_PARSE(app, argc, argv);

  mw::JobSpec spec;
  const mw::Status valid = mw::LoadJobSpec(spec_path, &spec);
  if (!valid.ok()) {
    std::fprintf(stderr, "mwctl: %s\n", valid.message().c_str());
    return 2;
  }
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const int threads = std::max(1, static_cast<int>(cores) / workers);
  const auto exits = mw::RunRanks(mw::HelperPath("mw_train_rank"), {"--spec", spec_path}, workers,
                                  {{"MW_THREADS", std::to_string(threads)}},
                                  std::chrono::minutes(timeout_minutes));
  if (!mw::AllSucceeded(exits)) {
    for (size_t r = 0; r < exits.size(); ++r) {
      if (exits[r].timed_out) {
        std::fprintf(stderr, "mwctl: rank %zu stopped after %d minutes\n", r, timeout_minutes);
      } else if (!exits[r].exited || exits[r].code != 0) {
        std::fprintf(stderr, "mwctl: rank %zu failed (status %d)\n", r, exits[r].code);
      }
    }
    return 1;
  }
  return 0;
}
