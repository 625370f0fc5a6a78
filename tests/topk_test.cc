// The distributed top-k refresh against brute force, row routing, and the distributed kNN
// monitor against one brute-force vote, on 1-4 real processes.
#include <gtest/gtest.h>

#include <string>

#include "common/process_group.h"

namespace mw {
namespace {

struct Run {
  const char* mode;
  int world_size;
};

void PrintTo(const Run& run, std::ostream* os) { *os << run.mode << " W=" << run.world_size; }

class TopKRefresh : public ::testing::TestWithParam<Run> {};

TEST_P(TopKRefresh, MatchesBruteForce) {
  const auto exits = RunRanks(HelperPath("topk_rank"), {GetParam().mode}, GetParam().world_size, {},
                              std::chrono::seconds(120));
  EXPECT_TRUE(AllSucceeded(exits));
}

INSTANTIATE_TEST_SUITE_P(ModesAndWorldSizes, TopKRefresh,
                         ::testing::Values(Run{"exact", 1}, Run{"exact", 2}, Run{"exact", 3},
                                           Run{"exact", 4}, Run{"random", 1}, Run{"random", 2},
                                           Run{"random", 3}, Run{"route", 1}, Run{"route", 2},
                                           Run{"route", 3}, Run{"knn", 1}, Run{"knn", 3}),
                         [](const ::testing::TestParamInfo<Run>& info) {
                           return std::string(info.param.mode) + "_W" +
                                  std::to_string(info.param.world_size);
                         });

}  // namespace
}  // namespace mw
