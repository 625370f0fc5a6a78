// Training: two real processes learn on a 2,000-image Fashion-MNIST subset, and stop at one
// step together when one of them is told to stop (training_rank does the work).
#include <gtest/gtest.h>

#include "common/process_group.h"

namespace mw {
namespace {

TEST(Training, TwoRanksLowerTheLossAndBeatRandomInitKnn) {
  const auto exits = RunRanks(HelperPath("training_rank"), {}, 2, {}, std::chrono::seconds(900));
  EXPECT_TRUE(AllSucceeded(exits));
}

TEST(Training, AStopFlagOnOneRankStopsEveryRankAfterTheSameStep) {
  const auto exits = RunRanks(HelperPath("training_rank"), {}, 2, {{"MW_MODE", "stop"}},
                              std::chrono::seconds(300));
  EXPECT_TRUE(AllSucceeded(exits));
}

}  // namespace
}  // namespace mw
