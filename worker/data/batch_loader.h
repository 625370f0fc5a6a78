// BatchLoader: one rank's training batches for one epoch, each image read, decoded and
// augmented into two views on a pool of loader threads, a bounded number of steps ahead of
// the step being trained. Every image is a task of its own, so the threads work on the
// images of a batch at once: on object storage, where each image is a request that mostly
// waits, the threads are also the reads in flight. Batches come out in step order whatever
// order the threads finish in, and an image's two views are a pure function of (seed, epoch,
// instance), so the thread count never changes what is trained on.
#pragma once

#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "common/status.h"
#include "worker/data/augmentation.h"
#include "worker/data/dataset.h"

namespace mw {

struct ViewBatch {
  int64_t step = 0;
  std::vector<int64_t> ids;  // b instance ids
  // [2, b, channels, size, size]: the first view of every image, then the second.
  std::vector<float> views;
};

struct BatchLoaderOptions {
  int threads = 1;
  int prefetch = 4;  // batches in flight or ready ahead of the consumer
};

class BatchLoader {
 public:
  // Loads steps [first_step, epoch_ids.size() / local_batch) of an epoch whose ids, in this
  // rank's reading order, are `epoch_ids`. data and augmenter must outlive the loader.
  BatchLoader(const Dataset& data, const Augmenter& augmenter, uint64_t seed, int64_t epoch,
              std::vector<int64_t> epoch_ids, int64_t local_batch, int64_t first_step,
              const BatchLoaderOptions& options);
  // Waits for the batches still being made.
  ~BatchLoader();

  bool done() const { return in_flight_.empty(); }
  // The next step's batch; the error of the first image that failed to load, naming it.
  Status Next(ViewBatch* out);

 private:
  struct Pending;  // a batch being loaded
  void Schedule();
  Status LoadImage(int64_t i, ViewBatch* batch) const;

  const Dataset& data_;
  const Augmenter& augmenter_;
  uint64_t seed_;
  int64_t epoch_;
  std::vector<int64_t> epoch_ids_;
  int64_t local_batch_;
  int64_t next_step_;
  int64_t end_step_;
  int prefetch_;
  std::deque<std::shared_ptr<Pending>> in_flight_;
  std::atomic<bool> cancelled_{false};
  boost::asio::thread_pool pool_;
};

}  // namespace mw
