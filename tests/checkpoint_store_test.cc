// CheckpointStore on a real directory: commit rules, row reads across pieces, retention,
// names that try to leave the store, and corruption found instead of served.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "common/durable_file.h"
#include "shard_server/checkpoint_store.h"

namespace mw {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kAttempt = 1;  // the gang attempt writing, unless a test says otherwise

// Row r of tensor "w" holds bytes (r * 7 + i) & 0xff, i in [0, row_bytes).
std::string Rows(uint64_t begin, uint64_t end, uint64_t row_bytes) {
  std::string out;
  for (uint64_t r = begin; r < end; ++r) {
    for (uint64_t i = 0; i < row_bytes; ++i) out.push_back(static_cast<char>((r * 7 + i) & 0xff));
  }
  return out;
}

class Store : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = (fs::temp_directory_path() / ("mw_store_" + std::to_string(getpid()))).string();
    ASSERT_TRUE(CheckpointStore::Open(root_, &store_).ok());
  }
  void TearDown() override { fs::remove_all(root_); }

  PieceRecord Write(uint64_t checkpoint, const std::string& tensor, uint64_t begin, uint64_t end,
                    uint64_t row_bytes = 600) {
    PieceRecord header;
    header.tensor = tensor;
    header.rows = true;
    header.row_begin = begin;
    header.row_end = end;
    header.row_bytes = row_bytes;
    header.total_rows = 10000;
    std::unique_ptr<CheckpointStore::PieceWriter> writer;
    EXPECT_TRUE(store_->StartPiece("job-1", checkpoint, kAttempt, header, &writer).ok());
    const std::string data = Rows(begin, end, row_bytes);
    // Odd-sized appends, so blocks straddle them.
    for (size_t at = 0; at < data.size(); at += 77777) {
      EXPECT_TRUE(writer->Append(data.data() + at, std::min<size_t>(77777, data.size() - at)).ok());
    }
    PieceRecord record;
    EXPECT_TRUE(writer->Finish(&record).ok());
    return record;
  }

  PieceRecord WriteBlob(uint64_t checkpoint, const std::string& tensor, const std::string& data) {
    PieceRecord header;
    header.tensor = tensor;
    std::unique_ptr<CheckpointStore::PieceWriter> writer;
    EXPECT_TRUE(store_->StartPiece("job-1", checkpoint, kAttempt, header, &writer).ok());
    EXPECT_TRUE(writer->Append(data.data(), data.size()).ok());
    PieceRecord record;
    EXPECT_TRUE(writer->Finish(&record).ok());
    return record;
  }

  Status Read(uint64_t checkpoint, uint64_t begin, uint64_t end, std::string* out) {
    out->clear();
    return store_->ReadRows("job-1", checkpoint, "w", begin, end,
                            [&](uint64_t row, const char* data, size_t bytes) {
                              EXPECT_EQ(row * 600, (begin * 600) + out->size());
                              out->append(data, bytes);
                              return Status::Ok();
                            });
  }

  std::string root_;
  std::unique_ptr<CheckpointStore> store_;
};

TEST_F(Store, CommittedRowsReadBackAcrossPieceBoundaries) {
  const std::vector<PieceRecord> pieces = {Write(1, "w", 0, 3000), Write(1, "w", 3000, 5000),
                                           WriteBlob(1, "backbone", "weights")};
  std::string out;
  EXPECT_EQ(Read(1, 0, 10, &out).code(), Status::Code::kNotFound);  // not committed yet
  Manifest manifest;
  ASSERT_TRUE(store_->Commit("job-1", 1, kAttempt, pieces, {}, nullptr, &manifest).ok());
  PieceRecord again;
  again.tensor = "backbone";
  std::unique_ptr<CheckpointStore::PieceWriter> writer;
  EXPECT_EQ(store_->StartPiece("job-1", 1, kAttempt, again, &writer).code(),
            Status::Code::kAlreadyExists);
  ASSERT_TRUE(Read(1, 2990, 3010, &out).ok());
  EXPECT_EQ(out, Rows(2990, 3010, 600));
  ASSERT_TRUE(Read(1, 0, 5000, &out).ok());  // 3 MB: many blocks, many chunks
  EXPECT_EQ(out, Rows(0, 5000, 600));
  EXPECT_EQ(Read(1, 4990, 5001, &out).code(), Status::Code::kOutOfRange);
  std::string blob;
  ASSERT_TRUE(store_
                  ->ReadBlob("job-1", 1, "backbone",
                             [&](uint64_t, const char* d, size_t n) {
                               blob.append(d, n);
                               return Status::Ok();
                             })
                  .ok());
  EXPECT_EQ(blob, "weights");
}

TEST_F(Store, CommitRefusesMissingOrDifferentPieces) {
  PieceRecord written = Write(2, "w", 0, 100);
  PieceRecord never = written;
  never.row_begin = 100;
  never.row_end = 200;
  Manifest manifest;
  EXPECT_EQ(store_->Commit("job-1", 2, kAttempt, {written, never}, {}, nullptr, &manifest).code(),
            Status::Code::kFailedPrecondition);
  PieceRecord altered = written;
  altered.checksum ^= 1;
  EXPECT_EQ(store_->Commit("job-1", 2, kAttempt, {altered}, {}, nullptr, &manifest).code(),
            Status::Code::kDataLoss);
  std::vector<Manifest> listed;
  ASSERT_TRUE(store_->List("job-1", &listed).ok());
  EXPECT_TRUE(listed.empty());
}

TEST_F(Store, ARepeatedCommitOfTheSamePiecesSucceedsAndOtherPiecesAreRefused) {
  const std::vector<PieceRecord> pieces = {Write(3, "w", 0, 2000), WriteBlob(3, "backbone", "b")};
  Manifest first, second;
  ASSERT_TRUE(store_->Commit("job-1", 3, kAttempt, pieces, {}, nullptr, &first).ok());
  // The same commit again, pieces in another order: the answer of a lost first reply.
  ASSERT_TRUE(
      store_->Commit("job-1", 3, kAttempt, {pieces[1], pieces[0]}, {}, nullptr, &second).ok());
  EXPECT_EQ(SerializeManifest(first), SerializeManifest(second));
  EXPECT_EQ(second.pieces[0].block_checksums.size(), 2u);  // 1.2 MB in 1 MiB blocks
  EXPECT_EQ(store_->Commit("job-1", 3, kAttempt, {pieces[0]}, {}, nullptr, &second).code(),
            Status::Code::kAlreadyExists);
  PieceRecord altered = pieces[0];
  altered.checksum ^= 1;
  EXPECT_EQ(store_->Commit("job-1", 3, kAttempt, {altered, pieces[1]}, {}, nullptr, &second).code(),
            Status::Code::kAlreadyExists);
  std::string out;
  ASSERT_TRUE(Read(3, 0, 2000, &out).ok());
  EXPECT_EQ(out, Rows(0, 2000, 600));
}

TEST_F(Store, WritesBeyondTheLimitsAreRefusedAndLeaveNothing) {
  const std::string root = root_ + "-limits";
  for (const bool small_pieces : {true, false}) {
    StoreLimits limits;
    if (small_pieces) {
      limits.max_piece_bytes = 1000;
    } else {
      limits.min_free_bytes = uint64_t{1} << 62;  // more than any disk: every write refused
    }
    std::unique_ptr<CheckpointStore> store;
    ASSERT_TRUE(CheckpointStore::Open(root, &store, limits).ok());
    PieceRecord header;
    header.tensor = "backbone";
    std::unique_ptr<CheckpointStore::PieceWriter> writer;
    ASSERT_TRUE(store->StartPiece("job-1", 1, kAttempt, header, &writer).ok());
    const std::string data(2000, 'x');
    const Status refused = writer->Append(data.data(), data.size());
    EXPECT_EQ(refused.code(), Status::Code::kResourceExhausted) << refused.ToString();
    EXPECT_NE(refused.message().find(small_pieces ? "--max-piece-bytes" : "--min-free-bytes"),
              std::string::npos)
        << refused.message();
    writer.reset();  // the stream ends in error: the piece is dropped
    PieceRecord piece = header;
    piece.bytes = data.size();
    Manifest manifest;
    EXPECT_FALSE(store->Commit("job-1", 1, kAttempt, {piece}, {}, nullptr, &manifest).ok());
    std::vector<Manifest> listed;
    ASSERT_TRUE(store->List("job-1", &listed).ok());
    EXPECT_TRUE(listed.empty());
    fs::remove_all(root);
  }
}

TEST_F(Store, CorruptionIsReportedNotServed) {
  const PieceRecord piece = Write(3, "w", 0, 4000);  // 2.4 MB: three blocks
  Manifest manifest;
  ASSERT_TRUE(store_->Commit("job-1", 3, kAttempt, {piece}, {}, nullptr, &manifest).ok());
  const std::string file = root_ + "/job-1/00000000000000000003/" + manifest.pieces[0].file;
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1500000);  // inside block 1
    f.put('\x5a');
  }
  std::string out;
  EXPECT_TRUE(Read(3, 0, 1000, &out).ok());  // block 0 is intact and verified
  const Status bad = Read(3, 2400, 2600, &out);
  EXPECT_EQ(bad.code(), Status::Code::kDataLoss);
  EXPECT_NE(bad.message().find("block 1"), std::string::npos) << bad.message();
  // A torn file (shorter than its manifest says).
  fs::resize_file(file, 100);
  EXPECT_EQ(Read(3, 0, 10, &out).code(), Status::Code::kDataLoss);
  // A manifest edited by hand.
  const std::string manifest_path = root_ + "/job-1/00000000000000000003/MANIFEST";
  std::string text;
  ASSERT_TRUE(ReadFile(manifest_path, &text).ok());
  text.replace(text.find("\"row_end\": 4000"), 15, "\"row_end\": 3999");
  std::ofstream(manifest_path, std::ios::trunc) << text;
  EXPECT_EQ(Read(3, 0, 10, &out).code(), Status::Code::kDataLoss);
}

TEST_F(Store, RetentionKeepsTheLastN) {
  Manifest manifest;
  for (uint64_t c = 1; c <= 5; ++c) {
    ASSERT_TRUE(store_
                    ->Commit("job-1", c, kAttempt, {Write(c, "w", 0, 10)}, Retention{3, c - 1},
                             nullptr, &manifest)
                    .ok());
  }
  Write(6, "w", 0, 10);  // written, never committed
  std::vector<Manifest> listed;
  ASSERT_TRUE(store_->List("job-1", &listed).ok());
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_EQ(listed[0].checkpoint, 3u);
  EXPECT_EQ(listed[2].checkpoint, 5u);
  ASSERT_TRUE(store_->Delete("job-1", 5).ok());
  ASSERT_TRUE(store_->List("job-1", &listed).ok());
  EXPECT_EQ(listed.size(), 2u);
  EXPECT_EQ(store_->Delete("job-1", 5).code(), Status::Code::kNotFound);
}

// keep_last = 1 once pruned the recorded checkpoint inside the commit of the next one, so a
// commit that then failed on another server left the job nothing to restart from. Retention
// now stops below the recorded checkpoint, whatever keep_last says.
TEST_F(Store, RetentionNeverPrunesTheRecordedCheckpoint) {
  Manifest manifest;
  ASSERT_TRUE(
      store_->Commit("job-1", 1, kAttempt, {Write(1, "w", 0, 10)}, {1, 0}, nullptr, &manifest)
          .ok());
  // Checkpoint 2 commits here while 1 is still the job's: 1 stays.
  ASSERT_TRUE(
      store_->Commit("job-1", 2, kAttempt, {Write(2, "w", 0, 10)}, {1, 1}, nullptr, &manifest)
          .ok());
  std::vector<Manifest> listed;
  ASSERT_TRUE(store_->List("job-1", &listed).ok());
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].checkpoint, 1u);
  // Once 2 is recorded, the commit of 3 prunes 1.
  ASSERT_TRUE(
      store_->Commit("job-1", 3, kAttempt, {Write(3, "w", 0, 10)}, {1, 2}, nullptr, &manifest)
          .ok());
  ASSERT_TRUE(store_->List("job-1", &listed).ok());
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].checkpoint, 2u);
  EXPECT_EQ(listed[1].checkpoint, 3u);
  // A recorded checkpoint that is not older than the one committed is refused.
  EXPECT_EQ(store_->Commit("job-1", 4, kAttempt, {Write(4, "w", 0, 10)}, {1, 4}, nullptr, &manifest)
                .code(),
            Status::Code::kInvalidArgument);
}

// Once a job is fenced at attempt 2, attempt 1 can neither start a piece nor commit one it
// wrote before; the fence survives a restart of the store.
TEST_F(Store, AFencedAttemptCanNeitherWriteNorCommit) {
  const PieceRecord stale = Write(1, "w", 0, 10);
  ASSERT_TRUE(store_->Fence("job-1", 2).ok());
  ASSERT_TRUE(store_->Fence("job-1", 1).ok());  // a lower fence changes nothing
  Manifest manifest;
  const Status refused = store_->Commit("job-1", 1, kAttempt, {stale}, {}, nullptr, &manifest);
  EXPECT_EQ(refused.code(), Status::Code::kFailedPrecondition) << refused.ToString();
  EXPECT_NE(refused.message().find("fenced"), std::string::npos) << refused.message();
  ASSERT_TRUE(CheckpointStore::Open(root_, &store_).ok());
  PieceRecord header;
  header.tensor = "backbone";
  std::unique_ptr<CheckpointStore::PieceWriter> writer;
  EXPECT_EQ(store_->StartPiece("job-1", 1, kAttempt, header, &writer).code(),
            Status::Code::kFailedPrecondition);
  // Attempt 2 writes checkpoint 1 beside attempt 1's files and commits it.
  ASSERT_TRUE(store_->StartPiece("job-1", 1, 2, header, &writer).ok());
  ASSERT_TRUE(writer->Append("b", 1).ok());
  PieceRecord piece;
  ASSERT_TRUE(writer->Finish(&piece).ok());
  ASSERT_TRUE(store_->Commit("job-1", 1, 2, {piece}, {}, nullptr, &manifest).ok());
  EXPECT_EQ(manifest.pieces[0].file, "backbone.a2.blob");
  // Attempt 1's pieces and every record are gone from the committed directory.
  std::set<std::string> files;
  for (const auto& entry : fs::directory_iterator(root_ + "/job-1/00000000000000000001")) {
    files.insert(entry.path().filename().string());
  }
  EXPECT_EQ(files, (std::set<std::string>{"MANIFEST", "backbone.a2.blob"}));
}

// A committer that gave up (its deadline passed while the server was slow) is asked at the
// last step; a commit nobody waits for writes no manifest.
TEST_F(Store, ACommitAbandonedBeforeItsManifestCommitsNothing) {
  const PieceRecord piece = Write(1, "w", 0, 10);
  Manifest manifest;
  EXPECT_EQ(store_
                ->Commit(
                    "job-1", 1, kAttempt, {piece}, {}, [] { return true; }, &manifest)
                .code(),
            Status::Code::kCancelled);
  std::vector<Manifest> listed;
  ASSERT_TRUE(store_->List("job-1", &listed).ok());
  EXPECT_TRUE(listed.empty());
  ASSERT_TRUE(store_
                  ->Commit(
                      "job-1", 1, kAttempt, {piece}, {}, [] { return false; }, &manifest)
                  .ok());
}

// The checksums a commit records are those of the bytes as they arrived (kept from the
// stream, not read back from disk): a byte altered on disk after arrival is caught at read,
// and a piece cut short on disk is refused at commit.
TEST_F(Store, ChecksumsAreThoseOfTheBytesReceived) {
  const PieceRecord piece = Write(1, "w", 0, 4000);
  EXPECT_EQ(piece.checksum, Checksum(Rows(0, 4000, 600).data(), 4000 * 600));
  const std::string dir = root_ + "/job-1/00000000000000000001/";
  {
    std::fstream f(dir + piece.file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1500000);  // inside block 1
    f.put('\x5a');
  }
  Manifest manifest;
  ASSERT_TRUE(store_->Commit("job-1", 1, kAttempt, {piece}, {}, nullptr, &manifest).ok());
  std::string out;
  EXPECT_EQ(Read(1, 2400, 2600, &out).code(), Status::Code::kDataLoss);
  const PieceRecord cut = Write(2, "w", 0, 100);
  fs::resize_file(dir + "../00000000000000000002/" + cut.file, 100);
  EXPECT_EQ(store_->Commit("job-1", 2, kAttempt, {cut}, {}, nullptr, &manifest).code(),
            Status::Code::kDataLoss);
}

TEST_F(Store, NamesCannotLeaveTheStore) {
  PieceRecord header;
  header.tensor = "w";
  std::unique_ptr<CheckpointStore::PieceWriter> writer;
  for (const std::string& job :
       std::vector<std::string>{"../etc", "a/b", "", ".hidden", std::string(65, 'x')}) {
    EXPECT_EQ(store_->StartPiece(job, 1, kAttempt, header, &writer).code(),
              Status::Code::kInvalidArgument)
        << job;
  }
  for (const std::string& tensor : std::vector<std::string>{"../w", "W", "a/b", ".."}) {
    header.tensor = tensor;
    EXPECT_EQ(store_->StartPiece("job-1", 1, kAttempt, header, &writer).code(),
              Status::Code::kInvalidArgument)
        << tensor;
  }
  header.tensor = "w";
  header.rows = true;
  header.row_begin = 5;
  header.row_end = 5;
  header.row_bytes = 4;
  header.total_rows = 10;
  EXPECT_EQ(store_->StartPiece("job-1", 1, kAttempt, header, &writer).code(),
            Status::Code::kInvalidArgument);
}

TEST_F(Store, AWriterDroppedMidPieceLeavesNothing) {
  PieceRecord header;
  header.tensor = "w";
  {
    std::unique_ptr<CheckpointStore::PieceWriter> writer;
    ASSERT_TRUE(store_->StartPiece("job-1", 7, kAttempt, header, &writer).ok());
    ASSERT_TRUE(writer->Append("abc", 3).ok());
  }
  EXPECT_FALSE(fs::exists(root_ + "/job-1/00000000000000000007/w.a1.blob"));
}

}  // namespace
}  // namespace mw
