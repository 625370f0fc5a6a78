#include "cli/progress.h"

#include <cctype>
#include <cstdio>

#include "cli/job_client.h"

namespace mw {

namespace v1 = millionway::v1;

std::string ProgressLine(const v1::Job& job) {
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(job.progress() * kWidth + 0.5);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  // A running job's phase ("train", "checkpoint", ...): PHASE_TRAIN without its prefix.
  std::string phase;
  if (job.state() == v1::RUNNING && job.phase() != v1::JOB_PHASE_UNSPECIFIED) {
    phase = v1::JobPhase_Name(job.phase()).substr(6);
    for (char& c : phase) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  char line[512];
  std::snprintf(line, sizeof(line),
                "%s %-9s %-10s epoch %llu/%llu step %llu/%llu [%s] %3.0f%% loss %.4f eta %.0f s",
                job.id().c_str(), v1::JobState_Name(job.state()).c_str(), phase.c_str(),
                static_cast<unsigned long long>(job.epoch()),
                static_cast<unsigned long long>(job.epochs()),
                static_cast<unsigned long long>(job.step()),
                static_cast<unsigned long long>(job.steps_per_epoch()), bar.c_str(),
                100 * job.progress(), job.last_loss(), job.eta_seconds());
  return line;
}

std::string Summary(const v1::Job& job) {
  char line[1024];
  std::snprintf(line, sizeof(line),
                "%s (%s) %s after %u attempt(s), %llu epoch(s), checkpoint %llu: kNN top-1 %.4f, "
                "linear probe top-1 %.4f%s%s",
                job.id().c_str(), job.name().c_str(), v1::JobState_Name(job.state()).c_str(),
                job.attempts(), static_cast<unsigned long long>(job.epoch()),
                static_cast<unsigned long long>(job.last_checkpoint()),
                job.last_evaluation().knn_top1(), job.last_evaluation().linear_top1(),
                job.failure().empty() ? "" : "; ", job.failure().c_str());
  return line;
}

}  // namespace mw
