// The communicator between real processes on loopback.
#include <gtest/gtest.h>

#include "common/process_group.h"
#include "worker/comm/communicator.h"
#ifdef MW_WITH_NCCL
#include "worker/comm/nccl_communicator.h"
#endif

namespace mw {
namespace {

class GlooCollectives : public ::testing::TestWithParam<int> {};

TEST_P(GlooCollectives, EveryCollectiveMatchesLocalArithmetic) {
  const auto exits =
      RunRanks(HelperPath("comm_rank"), {"collectives"}, GetParam(), {}, std::chrono::seconds(60));
  EXPECT_TRUE(AllSucceeded(exits));
}

INSTANTIATE_TEST_SUITE_P(WorldSizes, GlooCollectives, ::testing::Values(1, 2, 3, 4));

TEST(GlooFailure, DeadPeerIsAnErrorNotAnAbort) {
  const auto exits =
      RunRanks(HelperPath("comm_rank"), {"peer_death"}, 2, {}, std::chrono::seconds(60));
  ASSERT_EQ(exits.size(), 2u);
  EXPECT_TRUE(exits[0].exited && exits[0].code == 0) << "rank 0 exit " << exits[0].code;
}

TEST(GlooFailure, SilentPeerIsADeadlineNotAHang) {
  const auto exits =
      RunRanks(HelperPath("comm_rank"), {"silent_peer"}, 2, {}, std::chrono::seconds(60));
  ASSERT_EQ(exits.size(), 2u);
  EXPECT_TRUE(exits[0].exited && exits[0].code == 0) << "rank 0 exit " << exits[0].code;
}

// What a GPU gang does before NCCL starts, run for real on the CPU: rank 0's id reaches every
// rank through the rendezvous store (with NCCL's own ncclGetUniqueId where NCCL is built).
TEST(Rendezvous, NcclUniqueIdTravelsFromRankZeroToEveryRank) {
  const auto exits =
      RunRanks(HelperPath("comm_rank"), {"unique_id"}, 3, {}, std::chrono::seconds(60));
  EXPECT_TRUE(AllSucceeded(exits));
}

TEST(NcclCommunicator, NeedsAGpu) {
#ifdef MW_WITH_NCCL
  if (NcclCommunicator::DeviceCount() == 0) {
    GTEST_SKIP() << "no CUDA device on this machine: NCCL collectives not run";
  }
  std::string id;
  ASSERT_TRUE(NcclCommunicator::NewUniqueId(&id).ok());
  NcclOptions options;
  options.unique_id = id;
  std::unique_ptr<Communicator> comm;
  ASSERT_TRUE(NcclCommunicator::Create(options, &comm).ok());
  EXPECT_TRUE(comm->Barrier().ok());
#else
  GTEST_SKIP() << "built without CUDA/NCCL: NCCL communicator not compiled";
#endif
}

}  // namespace
}  // namespace mw
