// Classifier initialisation (contrastive prior, frozen-BN prior, Gaussian) on two real
// processes; prior_rank does the checking.
#include <gtest/gtest.h>

#include "common/process_group.h"

namespace mw {
namespace {

TEST(ClassifierInit, EveryRowAsItsInitialisationSays) {
  const auto exits = RunRanks(HelperPath("prior_rank"), {}, 2, {}, std::chrono::seconds(300));
  EXPECT_TRUE(AllSucceeded(exits));
}

}  // namespace
}  // namespace mw
