#include "worker/data/distributed_sampler.h"

#include <numeric>
#include <string>

#include "common/split_mix.h"

namespace mw {

Status DistributedSampler::Create(int64_t num_instances, int world_size, int64_t local_batch,
                                  uint64_t seed, DistributedSampler* out) {
  if (world_size < 1)
    return Status::InvalidArgument("world_size = " + std::to_string(world_size) + " must be >= 1");
  if (local_batch < 1) {
    return Status::InvalidArgument("local_batch = " + std::to_string(local_batch) +
                                   " must be >= 1");
  }
  if (num_instances < world_size * local_batch) {
    return Status::InvalidArgument("num_instances = " + std::to_string(num_instances) +
                                   " is less than one global batch (" +
                                   std::to_string(world_size * local_batch) + ")");
  }
  out->num_instances_ = num_instances;
  out->world_size_ = world_size;
  out->local_batch_ = local_batch;
  out->seed_ = seed;
  out->steps_per_epoch_ = num_instances / (world_size * local_batch);
  return Status::Ok();
}

const std::vector<int64_t>& DistributedSampler::Permutation(int64_t epoch) const {
  if (epoch == cached_epoch_) return cached_permutation_;
  std::vector<int64_t>& perm = cached_permutation_;
  perm.resize(static_cast<size_t>(num_instances_));
  std::iota(perm.begin(), perm.end(), 0);
  SplitMix64 rng(MixSeed(seed_, static_cast<uint64_t>(epoch) + 1));
  for (int64_t i = num_instances_ - 1; i > 0; --i) {
    std::swap(perm[static_cast<size_t>(i)], perm[rng.Below(static_cast<uint64_t>(i) + 1)]);
  }
  cached_epoch_ = epoch;
  return perm;
}

std::vector<int64_t> DistributedSampler::Batch(int64_t epoch, int64_t step, int rank) const {
  const std::vector<int64_t>& perm = Permutation(epoch);
  const auto first = perm.begin() + step * global_batch() + rank * local_batch_;
  return std::vector<int64_t>(first, first + local_batch_);
}

std::vector<int64_t> DistributedSampler::EpochIds(int64_t epoch, int rank) const {
  const std::vector<int64_t>& perm = Permutation(epoch);
  std::vector<int64_t> ids;
  ids.reserve(static_cast<size_t>(steps_per_epoch_ * local_batch_));
  for (int64_t step = 0; step < steps_per_epoch_; ++step) {
    const auto first = perm.begin() + step * global_batch() + rank * local_batch_;
    ids.insert(ids.end(), first, first + local_batch_);
  }
  return ids;
}

}  // namespace mw
