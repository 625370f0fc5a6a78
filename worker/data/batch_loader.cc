#include "worker/data/batch_loader.h"

#include <boost/asio/post.hpp>

namespace mw {

BatchLoader::BatchLoader(const Dataset& data, const Augmenter& augmenter, uint64_t seed,
                         int64_t epoch, std::vector<int64_t> epoch_ids, int64_t local_batch,
                         int64_t first_step, const BatchLoaderOptions& options)
    : data_(data),
      augmenter_(augmenter),
      seed_(seed),
      epoch_(epoch),
      epoch_ids_(std::move(epoch_ids)),
      local_batch_(local_batch),
      next_step_(first_step),
      end_step_(static_cast<int64_t>(epoch_ids_.size()) / local_batch),
      prefetch_(std::max(1, options.prefetch)),
      pool_(static_cast<size_t>(std::max(1, options.threads))) {
  Schedule();
}

BatchLoader::~BatchLoader() { pool_.join(); }

void BatchLoader::Schedule() {
  while (static_cast<int>(in_flight_.size()) < prefetch_ && next_step_ < end_step_) {
    auto task = std::make_shared<std::packaged_task<std::pair<Status, ViewBatch>()>>(
        [this, step = next_step_] {
          std::pair<Status, ViewBatch> result;
          result.first = Load(step, &result.second);
          return result;
        });
    in_flight_.push_back(task->get_future());
    boost::asio::post(pool_, [task] { (*task)(); });
    ++next_step_;
  }
}

Status BatchLoader::Next(ViewBatch* out) {
  if (in_flight_.empty())
    return Status::OutOfRange("epoch " + std::to_string(epoch_) + " has no more steps");
  std::pair<Status, ViewBatch> result = in_flight_.front().get();
  in_flight_.pop_front();
  Schedule();
  *out = std::move(result.second);
  return result.first;
}

Status BatchLoader::Load(int64_t step, ViewBatch* out) const {
  const int64_t b = local_batch_;
  const int64_t view_floats = augmenter_.ViewFloats(data_.channels());
  out->step = step;
  out->ids.assign(epoch_ids_.begin() + step * b, epoch_ids_.begin() + (step + 1) * b);
  out->views.resize(static_cast<size_t>(2 * b * view_floats));
  for (int64_t i = 0; i < b; ++i) {
    cv::Mat image;
    MW_RETURN_IF_ERROR(data_.Image(out->ids[static_cast<size_t>(i)], &image));
    for (int64_t v = 0; v < 2; ++v) {
      SplitMix64 rng(MixSeed(seed_, static_cast<uint64_t>(epoch_),
                             static_cast<uint64_t>(out->ids[static_cast<size_t>(i)]),
                             static_cast<uint64_t>(v)));
      augmenter_.View(image, rng, out->views.data() + (v * b + i) * view_floats);
    }
  }
  return Status::Ok();
}

}  // namespace mw
