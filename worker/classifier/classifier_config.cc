#include "worker/classifier/classifier_config.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>

namespace mw {

namespace {

template <typename T>
Status Invalid(const char* field, T value, const std::string& rule) {
  std::ostringstream msg;
  msg << field << " = " << value << " " << rule;
  return Status::InvalidArgument(msg.str());
}

}  // namespace

const char* PrecisionName(Precision precision) {
  switch (precision) {
    case Precision::kFloat32:
      return "fp32";
    case Precision::kFloat64:
      return "fp64";
    case Precision::kBfloat16:
      return "bf16";
  }
  return "fp32";
}

Status ParsePrecision(const std::string& text, Precision* out) {
  for (Precision p : {Precision::kFloat32, Precision::kFloat64, Precision::kBfloat16}) {
    if (text == PrecisionName(p)) {
      *out = p;
      return Status::Ok();
    }
  }
  return Status::InvalidArgument("precision '" + text + "' is not one of: fp32, bf16, fp64");
}

int64_t LogitBytes(Precision precision) {
  switch (precision) {
    case Precision::kFloat64:
      return 8;
    case Precision::kBfloat16:
      return 2;
    case Precision::kFloat32:
      break;
  }
  return 4;
}

Status ClassifierConfig::Validate(int world_size) const {
  if (world_size < 1) return Invalid("world_size", world_size, "must be >= 1");
  if (num_classes < world_size) {
    return Invalid("num_classes", num_classes,
                   "must be >= world_size = " + std::to_string(world_size) +
                       " (every rank owns at least one row)");
  }
  if (dim < 1) return Invalid("dim", dim, "must be >= 1");
  if (!(temperature > 0) || !std::isfinite(temperature)) {
    return Invalid("temperature", temperature, "must be a finite value > 0");
  }
  if (!(smoothing >= 0 && smoothing < 1))
    return Invalid("smoothing", smoothing, "must be in [0, 1)");
  if (top_k < 0) return Invalid("top_k", top_k, "must be >= 0");
  if (top_k >= num_classes) {
    return Invalid("top_k", top_k, "must be < num_classes = " + std::to_string(num_classes));
  }
  if (smoothing > 0 && top_k == 0) {
    return Invalid("top_k", top_k, "must be >= 1 when smoothing > 0");
  }
  if (smoothing > 0 && num_classes > std::numeric_limits<int32_t>::max()) {
    return Invalid("num_classes", num_classes,
                   "must be < 2^31 with smoothing on (the top-k table holds int32 ids)");
  }
  if (!(momentum >= 0 && momentum < 1)) return Invalid("momentum", momentum, "must be in [0, 1)");
  if (!(weight_decay >= 0) || !std::isfinite(weight_decay)) {
    return Invalid("weight_decay", weight_decay, "must be a finite value >= 0");
  }
  if (chunk_rows < 0) return Invalid("chunk_rows", chunk_rows, "must be >= 0 (0 = whole shard)");
  if (logit_cache_bytes < -1) {
    return Invalid("logit_cache_bytes", logit_cache_bytes, "must be >= -1 (-1 = keep all)");
  }
  if (sampled_classes < 0 || sampled_classes > num_classes) {
    return Invalid(
        "sampled_classes", sampled_classes,
        "must be in [0, num_classes = " + std::to_string(num_classes) + "] (0 = every class)");
  }
  if (precision == Precision::kFloat64 && device.cuda) {
    return Status::InvalidArgument(
        "precision = fp64 runs on the CPU only (it is the reference), "
        "not on device " +
        device.ToString());
  }
  return Status::Ok();
}

}  // namespace mw
