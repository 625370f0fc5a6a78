// The shard server as a real process over gRPC: round trips, bad requests, the standard
// health service, and kill -9 at random instants during commits (the last committed
// checkpoint always loads and verifies; an uncommitted one is never served).
#include <grpcpp/client_context.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <random>
#include <thread>

#include "common/process_group.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "shard_server/piece_proto.h"
#include "shard_server/shard_client.h"
#include "shard_server/shard_service.h"
#include "tests/support/server_process.h"

namespace mw {
namespace {

namespace fs = std::filesystem;
namespace v1 = millionway::v1;

constexpr uint64_t kRowBytes = 512;
constexpr uint64_t kRows = 3000;

// Checkpoint c's row r: every byte (c * 131 + r) & 0xff, so any mix-up shows.
std::string Rows(uint64_t c, uint64_t begin, uint64_t end) {
  std::string out;
  for (uint64_t r = begin; r < end; ++r)
    out.append(kRowBytes, static_cast<char>((c * 131 + r) & 0xff));
  return out;
}

PieceRecord RowHeader(uint64_t begin, uint64_t end) {
  PieceRecord h;
  h.tensor = "classifier.weight";
  h.rows = true;
  h.row_begin = begin;
  h.row_end = end;
  h.row_bytes = kRowBytes;
  h.total_rows = kRows;
  return h;
}

// Writes checkpoint c as two row pieces and a blob, then commits it.
Status WriteCheckpoint(ShardClient& client, uint64_t c) {
  std::vector<PieceRecord> pieces(3);
  const std::string a = Rows(c, 0, 1700), b = Rows(c, 1700, kRows);
  MW_RETURN_IF_ERROR(
      client.WritePiece("job", c, 1, RowHeader(0, 1700), a.data(), a.size(), &pieces[0]));
  MW_RETURN_IF_ERROR(
      client.WritePiece("job", c, 1, RowHeader(1700, kRows), b.data(), b.size(), &pieces[1]));
  PieceRecord blob;
  blob.tensor = "backbone";
  const std::string state = "state of " + std::to_string(c);
  MW_RETURN_IF_ERROR(client.WritePiece("job", c, 1, blob, state.data(), state.size(), &pieces[2]));
  return client.Commit("job", c, 1, pieces, 3, c - 1);
}

class ShardServer : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("mw_shards_" + std::to_string(getpid()))).string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  Status Start(ServerProcess* server) {
    return server->Start(HelperPath("../bin/mw_shard_server"),
                         {"--data-dir", dir_, "--allow-unauthenticated"});
  }
  std::string dir_;
};

TEST_F(ShardServer, RoundTripHealthAndBadRequests) {
  ServerProcess server;
  ASSERT_TRUE(Start(&server).ok()) << server.Log();
  ShardClient client(server.Channel());
  ASSERT_TRUE(WriteCheckpoint(client, 1).ok());
  std::string rows;
  ASSERT_TRUE(client.ReadRows("job", 1, "classifier.weight", 1600, 1800, &rows).ok());
  EXPECT_EQ(rows, Rows(1, 1600, 1800));
  std::string blob;
  ASSERT_TRUE(client.ReadBlob("job", 1, "backbone", &blob).ok());
  EXPECT_EQ(blob, "state of 1");

  auto health = grpc::health::v1::Health::NewStub(server.Channel());
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(health->Check(&context, request, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  EXPECT_EQ(client.ReadRows("job", 2, "classifier.weight", 0, 10, &rows).code(),
            Status::Code::kNotFound);
  const Status reversed = client.ReadRows("job", 1, "classifier.weight", 10, 5, &rows);
  EXPECT_EQ(reversed.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(reversed.message().find("row_begin"), std::string::npos);
  EXPECT_EQ(client.ReadRows("../job", 1, "classifier.weight", 0, 5, &rows).code(),
            Status::Code::kInvalidArgument);
  PieceRecord bad = RowHeader(0, 10);
  EXPECT_EQ(client.WritePiece("job", 3, 1, bad, "short", 5, nullptr).code(),
            Status::Code::kInvalidArgument);  // 5 bytes are not 10 rows of 512
  {  // A stream with no header, and one with no messages at all.
    auto stub = v1::ShardService::NewStub(server.Channel());
    grpc::ClientContext ctx;
    v1::WritePieceResponse out;
    auto writer = stub->WritePiece(&ctx, &out);
    v1::WritePieceRequest message;
    message.set_data("headless");
    writer->Write(message);
    writer->WritesDone();
    const grpc::Status s = writer->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("header"), std::string::npos);
    grpc::ClientContext ctx2;
    auto empty = stub->WritePiece(&ctx2, &out);
    empty->WritesDone();
    EXPECT_EQ(empty->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {  // A message over the server's size limit is refused without harm.
    auto stub = v1::ShardService::NewStub(server.Channel());
    grpc::ClientContext ctx;
    v1::WritePieceResponse out;
    auto writer = stub->WritePiece(&ctx, &out);
    v1::WritePieceRequest message;
    FillHeader(RowHeader(0, 1), message.mutable_header());
    message.mutable_header()->set_job_id("job");
    message.set_data(std::string(16 << 20, 'x'));
    writer->Write(message);
    writer->WritesDone();
    EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  ASSERT_TRUE(client.ReadRows("job", 1, "classifier.weight", 0, 1, &rows).ok());  // still up
  EXPECT_EQ(server.Terminate(), 0);  // SIGTERM: a clean exit
}

TEST_F(ShardServer, KillNineDuringCommitsNeverLosesOrServesATornCheckpoint) {
  std::mt19937 rng(20261129);
  uint64_t next = 1;
  int trials_with_commits = 0;
  for (int trial = 0; trial < 24; ++trial) {
    ServerProcess server;
    ASSERT_TRUE(Start(&server).ok()) << server.Log();
    std::atomic<uint64_t> last_committed{0};
    std::atomic<bool> stop{false};
    std::thread writer([&] {
      ShardClient client(server.Channel());
      while (!stop) {
        const uint64_t c = next++;
        if (!WriteCheckpoint(client, c).ok()) return;
        last_committed = c;
      }
    });
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(5, 400)(rng)));
    server.Kill();
    stop = true;
    writer.join();
    if (last_committed > 0) ++trials_with_commits;

    ServerProcess restarted;
    ASSERT_TRUE(Start(&restarted).ok()) << restarted.Log();
    ShardClient client(restarted.Channel());
    std::vector<uint64_t> listed;
    ASSERT_TRUE(client.List("job", &listed).ok());
    if (last_committed > 0) {
      // Acknowledged commits survive; a commit cut off before its reply may also have landed.
      ASSERT_FALSE(listed.empty()) << "trial " << trial;
      EXPECT_GE(listed.back(), last_committed.load()) << "trial " << trial;
    }
    for (uint64_t c : listed) {  // every listed checkpoint is whole and right
      std::string rows, blob;
      ASSERT_TRUE(client.ReadRows("job", c, "classifier.weight", 0, kRows, &rows).ok()) << c;
      EXPECT_TRUE(rows == Rows(c, 0, kRows)) << "checkpoint " << c << " rows differ";
      ASSERT_TRUE(client.ReadBlob("job", c, "backbone", &blob).ok());
      EXPECT_EQ(blob, "state of " + std::to_string(c));
    }
    // The checkpoint being written when the server died is not served unless committed.
    const uint64_t torn = next - 1;
    if (listed.empty() || listed.back() < torn) {
      std::string rows;
      EXPECT_EQ(client.ReadRows("job", torn, "classifier.weight", 0, 1, &rows).code(),
                Status::Code::kNotFound);
    }
  }
  EXPECT_GE(trials_with_commits, 10);
}

}  // namespace
}  // namespace mw
