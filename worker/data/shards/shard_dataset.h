// ShardDataset: a packed dataset (see shard_manifest.h) read in place from a volume, an
// http(s) server or S3. Opening reads manifest.json and index.bin, two requests whatever the
// dataset's size; after that each Image() is one ranged read of the sample's bytes, checked
// against the index's checksum and decoded. Nothing is downloaded whole, and a worker's
// memory holds the index (20 bytes a sample) and the batches in flight.
//
// A shard that is truncated or corrupt is an error naming the shard and the sample, which
// fails the task (and, after its retries, the job, with that message in its status).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "worker/data/dataset.h"
#include "worker/data/shards/byte_source.h"
#include "worker/data/shards/shard_manifest.h"

namespace mw {

class ShardDataset : public Dataset {
 public:
  static Status Open(const std::string& location, const ObjectStoreOptions& options,
                     std::unique_ptr<ShardDataset>* out);

  int64_t size() const override { return manifest_.samples; }
  int channels() const override { return manifest_.channels; }
  Status Image(int64_t index, cv::Mat* out) const override;
  Status ImageScaled(int64_t index, const std::function<int(cv::Size)>& plan, cv::Mat* out,
                     int* denominator) const override;
  int64_t Label(int64_t index) const override;
  int64_t num_labels() const override { return manifest_.labels; }
  std::string Describe() const override;

  // The sample's image bytes, checked against the index.
  Status SampleBytes(int64_t index, std::string* out) const;
  const ShardManifest& manifest() const { return manifest_; }
  const std::vector<SampleLocation>& index() const { return index_; }
  const ByteSource& source() const { return *source_; }

 private:
  std::string location_;
  std::unique_ptr<ByteSource> source_;
  ShardManifest manifest_;
  std::vector<SampleLocation> index_;
};

}  // namespace mw
