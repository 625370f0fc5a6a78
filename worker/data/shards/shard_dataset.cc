#include "worker/data/shards/shard_dataset.h"

#include "worker/data/shards/image_decoder.h"

namespace mw {

Status ShardDataset::Open(const std::string& location, const ObjectStoreOptions& options,
                          std::unique_ptr<ShardDataset>* out) {
  auto dataset = std::make_unique<ShardDataset>();
  dataset->location_ = location;
  MW_RETURN_IF_ERROR(OpenByteSource(location, options, &dataset->source_));
  const ByteSource& source = *dataset->source_;
  std::string text;
  MW_RETURN_IF_ERROR(
      source.ReadAll(ShardManifest::kManifestName, ShardManifest::kMaxManifestBytes, &text));
  MW_RETURN_IF_ERROR(ShardManifest::FromJson(text, source.Locate(ShardManifest::kManifestName),
                                             &dataset->manifest_));
  std::string index;
  MW_RETURN_IF_ERROR(
      source.Read(ShardManifest::kIndexName, 0, dataset->manifest_.index_bytes, &index));
  MW_RETURN_IF_ERROR(DecodeSampleIndex(index, dataset->manifest_,
                                       source.Locate(ShardManifest::kIndexName), &dataset->index_));
  *out = std::move(dataset);
  return Status::Ok();
}

Status ShardDataset::SampleBytes(int64_t index, std::string* out) const {
  if (index < 0 || index >= size()) {
    return Status::OutOfRange(location_ + ": sample " + std::to_string(index) + " of " +
                              std::to_string(size()));
  }
  const SampleLocation& s = index_[static_cast<size_t>(index)];
  const std::string& shard = manifest_.shards[s.shard].name;
  const Status read = source_->Read(shard, s.offset(), s.size, out);
  if (!read.ok()) {
    return Status::FromCode(read.code(), "sample " + std::to_string(index) + ": " + read.message());
  }
  if (static_cast<uint32_t>(Checksum(out->data(), out->size())) != s.check) {
    return Status::DataLoss(source_->Locate(shard) + ": sample " + std::to_string(index) +
                            " (bytes " + std::to_string(s.offset()) + "+" + std::to_string(s.size) +
                            ") differs from the index: corrupt shard");
  }
  return Status::Ok();
}

Status ShardDataset::Image(int64_t index, cv::Mat* out) const {
  int denominator = 1;
  return ImageScaled(
      index, [](cv::Size) { return 1; }, out, &denominator);
}

Status ShardDataset::ImageScaled(int64_t index, const std::function<int(cv::Size)>& plan,
                                 cv::Mat* out, int* denominator) const {
  std::string bytes;
  MW_RETURN_IF_ERROR(SampleBytes(index, &bytes));
  const SampleLocation& s = index_[static_cast<size_t>(index)];
  const std::string what =
      source_->Locate(manifest_.shards[s.shard].name) + ": sample " + std::to_string(index);
  const auto checked_plan = [&](cv::Size full) {
    const int d = plan(full);
    return full.width >= kMinImageSide && full.height >= kMinImageSide ? d : 1;
  };
  MW_RETURN_IF_ERROR(DecodeImage(bytes, manifest_.channels, what, checked_plan, out, denominator));
  MW_RETURN_IF_ERROR(
      CheckImageSize(cv::Size(out->cols * *denominator, out->rows * *denominator), what));
  return Status::Ok();
}

int64_t ShardDataset::Label(int64_t index) const {
  return index_[static_cast<size_t>(index)].label;
}

std::string ShardDataset::Describe() const {
  return "shards " + location_ + " (" + std::to_string(manifest_.samples) + " images in " +
         std::to_string(manifest_.shards.size()) + " shards, " + std::to_string(manifest_.labels) +
         " classes)";
}

}  // namespace mw
