// Trainer checkpoints through real shard servers (S = 3, so rank and server ranges straddle
// each other): written by W = 2 ranks, committed, then loaded by W = 3 ranks (rows resharded
// on load) and by W = 1, row for row identical; and a checkpoint in the older format (int64
// top-k ids) loads the same.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/process_group.h"
#include "shard_server/checkpoint_coverage.h"
#include "shard_server/piece_proto.h"
#include "shard_server/shard_client.h"
#include "tests/support/server_process.h"

namespace mw {
namespace {

namespace fs = std::filesystem;

// The records of checkpoint `checkpoint`'s pieces, as the ranks left them, by server.
void ReadPieces(const fs::path& dir, int checkpoint, std::vector<PieceRecord> per_server[3]) {
  for (int rank = 0; rank < 2; ++rank) {
    std::ifstream in(dir / ("pieces" + std::to_string(checkpoint) + "." + std::to_string(rank)),
                     std::ios::binary);
    int server = 0;
    size_t bytes = 0;
    while (in >> server >> bytes) {
      in.get();
      std::string serialized(bytes, '\0');
      in.read(serialized.data(), static_cast<std::streamsize>(bytes));
      millionway::v1::PieceInfo info;
      ASSERT_TRUE(info.ParseFromString(serialized));
      PieceRecord piece = RecordOf(info.header());
      piece.bytes = info.bytes();
      piece.checksum = info.checksum();
      per_server[server].push_back(piece);
    }
  }
}

TEST(TrainerCheckpoint, WrittenWithTwoRanksLoadsOnThreeAndOne) {
  const fs::path dir = fs::temp_directory_path() / ("mw_ckpt_" + std::to_string(getpid()));
  fs::create_directories(dir);
  ServerProcess servers[3];
  std::string addresses;
  for (int s = 0; s < 3; ++s) {
    const fs::path data = dir / ("shards" + std::to_string(s));
    ASSERT_TRUE(servers[s]
                    .Start(HelperPath("../bin/mw_shard_server"),
                           {"--data-dir", data.string(), "--allow-unauthenticated"})
                    .ok());
    addresses += (s ? "," : "") + servers[s].address();
  }
  const std::map<std::string, std::string> env = {{"MW_DIR", dir.string()},
                                                  {"MW_SHARD_SERVERS", addresses}};
  auto save_env = env;
  save_env["MW_MODE"] = "save";
  ASSERT_TRUE(AllSucceeded(
      RunRanks(HelperPath("checkpoint_rank"), {}, 2, save_env, std::chrono::seconds(300))));

  // The coordinator's part: commit each server's pieces once every rank has written.
  std::vector<PieceRecord> per_server[3];
  ReadPieces(dir, 1, per_server);
  // Ranks hold [0, 499) and [499, 997), servers [0, 333), [333, 665), [665, 997): each rank
  // writes two pieces per row tensor (weights, momentum and, mid-epoch, the top-k table);
  // rank 0 adds the two blobs.
  EXPECT_EQ(per_server[0].size() + per_server[1].size() + per_server[2].size(), 3u * 4 + 2);
  // Together the pieces hold every row and blob; without any one of them they do not.
  std::vector<PieceRecord> all;
  for (const auto& pieces : per_server) all.insert(all.end(), pieces.begin(), pieces.end());
  ASSERT_TRUE(VerifyCoverage(all).ok()) << VerifyCoverage(all).ToString();
  for (size_t left_out = 0; left_out < all.size(); ++left_out) {
    std::vector<PieceRecord> short_one = all;
    short_one.erase(short_one.begin() + static_cast<std::ptrdiff_t>(left_out));
    EXPECT_EQ(VerifyCoverage(short_one).code(), Status::Code::kFailedPrecondition)
        << all[left_out].tensor << " " << all[left_out].row_begin;
    short_one.push_back(all[(left_out + 1) % all.size()]);  // another one twice instead
    EXPECT_EQ(VerifyCoverage(short_one).code(), Status::Code::kFailedPrecondition)
        << all[left_out].tensor << " " << all[left_out].row_begin;
  }
  for (int s = 0; s < 3; ++s) {
    ShardClient client(servers[s].Channel());
    ASSERT_TRUE(client.Commit("ckpt-test", 1, 1, per_server[s], 2, 0).ok());
  }
  // Checkpoint 2, the same state with int64 top-k ids (the format before int32), committed
  // as it stands: a job checkpointed by an older worker resumes on this one.
  for (int s = 0; s < 3; ++s) per_server[s].clear();
  ReadPieces(dir, 2, per_server);
  for (int s = 0; s < 3; ++s) {
    ShardClient client(servers[s].Channel());
    ASSERT_TRUE(client.Commit("ckpt-test", 2, 1, per_server[s], 3, 0).ok());
  }
  auto load_env = env;
  load_env["MW_MODE"] = "load";
  for (int world : {2, 3, 1}) {
    EXPECT_TRUE(AllSucceeded(
        RunRanks(HelperPath("checkpoint_rank"), {}, world, load_env, std::chrono::seconds(300))))
        << "W = " << world;
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mw
