#include <gtest/gtest.h>

#include "common/row_partition.h"
#include "common/status.h"

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

}  // namespace
}  // namespace mw
