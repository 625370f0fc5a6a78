// Data: the IDX reader on Debian's Fashion-MNIST and on broken files, and the sampler.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "worker/data/distributed_sampler.h"
#include "worker/data/fashion_mnist.h"
#include "worker/data/idx_file.h"

namespace mw {
namespace {

TEST(FashionMnist, ReadsBothSplitsOfTheDebianPackage) {
  GreyImages train, test;
  ASSERT_TRUE(LoadFashionMnist(kFashionMnistDir, Split::kTrain, &train).ok());
  ASSERT_TRUE(LoadFashionMnist(kFashionMnistDir, Split::kTest, &test).ok());
  EXPECT_EQ(train.count, 60000);
  EXPECT_EQ(test.count, 10000);
  EXPECT_EQ(train.height, 28);
  EXPECT_EQ(train.width, 28);
  ASSERT_EQ(train.pixels.size(), 60000u * 28 * 28);
  std::vector<int> per_class(10, 0);
  for (int64_t label : train.labels) per_class[static_cast<size_t>(label)]++;
  for (int c = 0; c < 10; ++c) EXPECT_EQ(per_class[static_cast<size_t>(c)], 6000) << c;
  double mean = 0;
  for (uint8_t p : train.pixels) mean += p;
  mean /= static_cast<double>(train.pixels.size());
  EXPECT_NEAR(mean / 255.0, 0.2860, 0.001);  // the dataset's published mean
}

class BrokenIdx : public ::testing::Test {
 protected:
  std::string Write(const std::vector<uint8_t>& bytes) {
    std::ofstream(path_, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    return path_;
  }
  void TearDown() override { std::remove(path_.c_str()); }
  std::string path_ = "/tmp/mw_idx_test_" + std::to_string(getpid());
};

void ExpectError(const Status& s, Status::Code code, const std::string& path,
                 const std::string& what) {
  EXPECT_EQ(s.code(), code) << s.ToString();
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(what), std::string::npos) << s.message();
}

TEST_F(BrokenIdx, EachDefectIsNamedWithTheFile) {
  IdxArray a;
  ExpectError(ReadIdxFile("/nonexistent/x.idx", &a), Status::Code::kNotFound, "/nonexistent/x.idx",
              "cannot open");
  ExpectError(ReadIdxFile(Write({1, 2, 8, 1, 0, 0, 0, 1, 7}), &a), Status::Code::kInvalidArgument,
              path_, "magic");
  ExpectError(ReadIdxFile(Write({0, 0, 0x0D, 1, 0, 0, 0, 1, 7}), &a),
              Status::Code::kInvalidArgument, path_, "type 13");
  ExpectError(ReadIdxFile(Write({0, 0, 8, 1, 0, 0, 0, 9, 7, 7}), &a),
              Status::Code::kInvalidArgument, path_, "truncated");
  ExpectError(ReadIdxFile(Write({0, 0, 8, 2, 0, 0}), &a), Status::Code::kInvalidArgument, path_,
              "inside dimension");
  ExpectError(ReadIdxFile(Write({0, 0, 8, 1, 0, 0, 0, 1, 7, 7}), &a),
              Status::Code::kInvalidArgument, path_, "trailing");
  ASSERT_TRUE(ReadIdxFile(Write({0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 1, 5, 6}), &a).ok());
  EXPECT_EQ(a.dims, (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(a.data, (std::vector<uint8_t>{5, 6}));
}

TEST(DistributedSampler, EachEpochIsPartitionedExactly) {
  DistributedSampler sampler;
  ASSERT_TRUE(DistributedSampler::Create(103, 3, 5, 42, &sampler).ok());
  EXPECT_EQ(sampler.steps_per_epoch(), 6);
  std::set<int64_t> seen_epoch0;
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    std::set<int64_t> seen;
    for (int64_t step = 0; step < 6; ++step) {
      for (int rank = 0; rank < 3; ++rank) {
        for (int64_t id : sampler.Batch(epoch, step, rank)) {
          EXPECT_TRUE(id >= 0 && id < 103);
          EXPECT_TRUE(seen.insert(id).second) << "id " << id << " twice in epoch " << epoch;
        }
      }
    }
    EXPECT_EQ(seen.size(), 90u);
    if (epoch == 0) seen_epoch0 = seen;
    if (epoch == 1) {
      EXPECT_NE(seen, seen_epoch0);  // a different 13 sit out
    }
  }
}

TEST(DistributedSampler, ResumesMidEpochIdentically) {
  DistributedSampler first, resumed;
  ASSERT_TRUE(DistributedSampler::Create(1000, 2, 16, 7, &first).ok());
  ASSERT_TRUE(DistributedSampler::Create(1000, 2, 16, 7, &resumed).ok());
  const std::vector<int64_t> all = first.EpochIds(4, 1);
  for (int64_t step = 17; step < first.steps_per_epoch(); ++step) {
    const std::vector<int64_t> batch = resumed.Batch(4, step, 1);
    EXPECT_EQ(batch, std::vector<int64_t>(all.begin() + step * 16, all.begin() + (step + 1) * 16));
  }
  DistributedSampler other_seed;
  ASSERT_TRUE(DistributedSampler::Create(1000, 2, 16, 8, &other_seed).ok());
  EXPECT_NE(other_seed.Batch(4, 0, 1), resumed.Batch(4, 0, 1));
}

TEST(DistributedSampler, RejectsImpossibleLayouts) {
  DistributedSampler s;
  EXPECT_EQ(DistributedSampler::Create(10, 3, 4, 0, &s).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(DistributedSampler::Create(10, 0, 4, 0, &s).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(DistributedSampler::Create(10, 1, 0, 0, &s).code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace mw
