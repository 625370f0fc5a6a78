// How mwctl shows a job: one line per update (state, epoch, step, a bar, loss, ETA), and
// the final figures.
#pragma once

#include <string>

#include "millionway/v1/job.pb.h"

namespace mw {

std::string ProgressLine(const millionway::v1::Job& job);
std::string Summary(const millionway::v1::Job& job);

}  // namespace mw
