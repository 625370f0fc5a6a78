#include "worker/data/batch_loader.h"

#include <boost/asio/post.hpp>

#include <climits>
#include <condition_variable>
#include <mutex>

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

BatchLoader::~BatchLoader() {
  cancelled_ = true;  // the images not started yet are not read
  pool_.join();
}

struct BatchLoader::Pending {
  ViewBatch batch;
  std::mutex mu;
  std::condition_variable all_loaded;
  int64_t left = 0;                  // images not loaded yet
  int64_t first_failed = INT64_MAX;  // the lowest image index that failed, and its error
  Status status;
};

void BatchLoader::Schedule() {
  const int64_t b = local_batch_;
  const int64_t view_floats = augmenter_.ViewFloats(data_.channels());
  while (static_cast<int>(in_flight_.size()) < prefetch_ && next_step_ < end_step_) {
    auto pending = std::make_shared<Pending>();
    ViewBatch& batch = pending->batch;
    batch.step = next_step_;
    batch.ids.assign(epoch_ids_.begin() + next_step_ * b,
                     epoch_ids_.begin() + (next_step_ + 1) * b);
    batch.views.resize(static_cast<size_t>(2 * b * view_floats));
    pending->left = b;
    for (int64_t i = 0; i < b; ++i) {
      boost::asio::post(pool_, [this, pending, i] {
        bool skip;
        {
          // Once an image of the batch has failed, the ones after it are not worth their
          // reads (the batch's error is the first failing image's, whatever the timing).
          std::lock_guard<std::mutex> lock(pending->mu);
          skip = cancelled_ || pending->first_failed < i;
        }
        Status loaded;
        if (!skip) {
          // Decoding and resizing throw (cv::Exception, std::bad_alloc); a pool thread that
          // lets an exception out terminates the process.
          const auto thrown = [&](const std::string& what) {
            return Status::Internal("sample " +
                                    std::to_string(pending->batch.ids[static_cast<size_t>(i)]) +
                                    ": " + what);
          };
          try {
            loaded = LoadImage(i, &pending->batch);
          } catch (const std::exception& e) {
            loaded = thrown(e.what());
          } catch (...) {
            loaded = thrown("a non-standard exception");
          }
        }
        std::lock_guard<std::mutex> lock(pending->mu);
        if (!loaded.ok() && i < pending->first_failed) {
          pending->first_failed = i;
          pending->status = loaded;
        }
        if (--pending->left == 0) pending->all_loaded.notify_all();
      });
    }
    in_flight_.push_back(std::move(pending));
    ++next_step_;
  }
}

Status BatchLoader::Next(ViewBatch* out) {
  if (in_flight_.empty())
    return Status::OutOfRange("epoch " + std::to_string(epoch_) + " has no more steps");
  std::shared_ptr<Pending> pending = std::move(in_flight_.front());
  in_flight_.pop_front();
  {
    std::unique_lock<std::mutex> lock(pending->mu);
    pending->all_loaded.wait(lock, [&] { return pending->left == 0; });
  }
  Schedule();
  *out = std::move(pending->batch);
  return pending->status;
}

// Writes image i's two views into their places in the batch: no other task touches them.
Status BatchLoader::LoadImage(int64_t i, ViewBatch* batch) const {
  const int64_t b = local_batch_;
  const int64_t view_floats = augmenter_.ViewFloats(data_.channels());
  const auto id = static_cast<uint64_t>(batch->ids[static_cast<size_t>(i)]);
  SplitMix64 rngs[2] = {SplitMix64(MixSeed(seed_, static_cast<uint64_t>(epoch_), id, 0)),
                        SplitMix64(MixSeed(seed_, static_cast<uint64_t>(epoch_), id, 1))};
  // Both views' crops are drawn from the full size before decoding, so a JPEG is decoded
  // only as large as the larger crop needs.
  cv::Rect crops[2];
  cv::Mat image;
  int denominator = 1;
  MW_RETURN_IF_ERROR(data_.ImageScaled(
      static_cast<int64_t>(id),
      [&](cv::Size full) {
        for (int v = 0; v < 2; ++v) crops[v] = augmenter_.Crop(full, rngs[v]);
        return augmenter_.Denominator(crops, 2);
      },
      &image, &denominator));
  for (int64_t v = 0; v < 2; ++v) {
    const cv::Rect crop = Augmenter::ScaledCrop(crops[v], denominator, image.size());
    augmenter_.ViewOfCrop(image(crop), rngs[v], batch->views.data() + (v * b + i) * view_floats);
  }
  return Status::Ok();
}

}  // namespace mw
