#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "common/durable_file.h"
#include "common/random_token.h"
#include "common/row_partition.h"
#include "common/status.h"
#include "common/tensor_heap.h"

namespace mw {
namespace {

TEST(RowPartition, CoversEveryRowOnceWithRangesWithinOneRow) {
  for (int64_t rows : {1, 7, 37, 1000, 1001}) {
    for (int parts = 1; parts <= 8 && parts <= rows; ++parts) {
      RowPartition p(rows, parts);
      EXPECT_EQ(p.begin(0), 0);
      EXPECT_EQ(p.end(parts - 1), rows);
      for (int r = 0; r < parts; ++r) {
        EXPECT_LE(p.max_size() - p.size(r), 1);
        EXPECT_GE(p.size(r), 1);
        for (int64_t row = p.begin(r); row < p.end(r); ++row) ASSERT_EQ(p.owner(row), r);
      }
    }
  }
}

TEST(RowPartition, UnevenSplitGivesExtraRowsToTheFirstParts) {
  RowPartition p(37, 4);
  EXPECT_EQ(p.size(0), 10);
  EXPECT_EQ(p.size(1), 9);
  EXPECT_EQ(p.begin(2), 19);
  EXPECT_EQ(p.owner(36), 3);
}

TEST(Status, CarriesCodeAndAnnotatedMessage) {
  Status s = Status::InvalidArgument("top_k = 40").Annotate("job 7");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(s.ToString(), "INVALID_ARGUMENT: job 7: top_k = 40");
  EXPECT_TRUE(Status::Ok().Annotate("x").ok());
}

TEST(DurableFile, WritesAtomicallyReadsRangesAndNamesWhatFailed) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("mw_durable_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "state").string();
  ASSERT_TRUE(WriteFileAtomically(path, "first").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "second version").ok());  // replaces it whole
  std::string text;
  ASSERT_TRUE(ReadFile(path, &text).ok());
  EXPECT_EQ(text, "second version");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));  // nothing half-written is left
  ASSERT_TRUE(ReadFileRange(path, 7, 7, &text).ok());
  EXPECT_EQ(text, "version");
  const Status short_read = ReadFileRange(path, 10, 20, &text);
  EXPECT_EQ(short_read.code(), Status::Code::kDataLoss);
  EXPECT_NE(short_read.message().find(path), std::string::npos) << short_read.message();
  const Status missing = ReadFile((dir / "absent").string(), &text);
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("absent"), std::string::npos) << missing.message();
  WritableFile file;
  ASSERT_TRUE(WritableFile::Create((dir / "pieces").string(), &file).ok());
  ASSERT_TRUE(file.Append("ab", 2).ok());
  ASSERT_TRUE(file.Append("cd", 2).ok());
  ASSERT_TRUE(file.SyncAndClose().ok());
  ASSERT_TRUE(ReadFile((dir / "pieces").string(), &text).ok());
  EXPECT_EQ(text, "abcd");
  EXPECT_TRUE(SyncDirectory(dir.string()).ok());
  EXPECT_FALSE(WriteFileAtomically((dir / "no" / "such" / "dir").string(), "x").ok());
  std::filesystem::remove_all(dir);
}

TEST(RandomHex, IsHexOfTheAskedLengthAndDoesNotRepeat) {
  const std::string a = RandomHex(16), b = RandomHex(16);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos) << a;
  EXPECT_NE(a, b);
}

long MinorPageFaults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// What a training step does to the heap: several blocks of megabytes, written, then freed.
void OneStepOfAllocations() {
  constexpr size_t kBytes = 8 << 20;
  std::vector<char*> blocks;
  for (int i = 0; i < 4; ++i) {
    blocks.push_back(static_cast<char*>(std::malloc(kBytes)));
    std::memset(blocks.back(), i, kBytes);
  }
  for (char* block : blocks) std::free(block);
}

TEST(TensorHeap, TheNextStepReusesFreedBlocksWithoutFaultingTheirPagesIn) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer replaces the glibc heap this setting tunes";
#endif
  KeepFreedTensorMemoryForReuse();
  OneStepOfAllocations();
  const long before = MinorPageFaults();
  OneStepOfAllocations();
  // 32 MiB faulted in afresh would be 8,192 faults of 4 KiB pages.
  EXPECT_LT(MinorPageFaults() - before, 256);
}

}  // namespace
}  // namespace mw
