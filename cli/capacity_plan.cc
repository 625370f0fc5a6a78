#include "cli/capacity_plan.h"

#include <algorithm>
#include <cstdio>

#include "worker/classifier/classifier_memory.h"

namespace mw {

namespace {

std::string GB(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f GB", static_cast<double>(bytes) / 1e9);
  return text;
}

std::string GiB(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", static_cast<double>(bytes) / (1 << 30));
  return text;
}

}  // namespace

Status CapacityPlan(const JobSpec& spec, const CapacityPlanOptions& options, std::string* out) {
  int64_t instances = options.instances;
  if (instances == 0) {
    if (spec.data.kind == "synthetic") instances = spec.data.synthetic_size;
    if (spec.data.train_subset > 0) instances = spec.data.train_subset;
    if (spec.data.kind == "fashion-mnist" && instances == 0) instances = 60000;
  }
  if (instances <= 0) {
    return Status::InvalidArgument(
        "--instances: give the number of training images (the spec's dataset does not say)");
  }
  ClassifierConfig classifier = spec.trainer.classifier;
  classifier.num_classes = instances;
  const int64_t global_batch = 2 * spec.trainer.local_batch * options.workers;
  const ClassifierMemory worker =
      EstimateClassifierMemory(classifier, options.workers, global_batch);
  // One checkpoint holds every row's weights and momentum. Retention keeps the recorded one
  // while the next commits, so at least two are kept; the next is written beside them.
  const int64_t checkpoint = 2 * instances * classifier.dim * 4;
  const int kept = std::max(options.keep_checkpoints, 2);
  const int64_t per_server = (kept + 1) * checkpoint / std::max(1, options.shard_servers);
  char text[1024];
  std::snprintf(text, sizeof text,
                "%lld instances, d = %lld, %d workers (global batch %lld views), %d shard servers, "
                "%d checkpoints kept\n"
                "per worker, classifier: %lld rows, %s; on a GPU %s GiB of it on the device, "
                "%s GiB on the host\n"
                "per checkpoint, classifier weights and momentum: %s\n"
                "per shard server, disk: (%d kept + 1 being written) x %s / %d = %s "
                "(plus the backbone's pieces)\n",
                static_cast<long long>(instances), static_cast<long long>(classifier.dim),
                options.workers, static_cast<long long>(global_batch), options.shard_servers,
                options.keep_checkpoints, static_cast<long long>(worker.rows),
                worker.ToString().c_str(), GiB(worker.device()).c_str(), GiB(worker.host()).c_str(),
                GB(checkpoint).c_str(), kept, GB(checkpoint).c_str(), options.shard_servers,
                GB(per_server).c_str());
  *out = text;
  return Status::Ok();
}

}  // namespace mw
