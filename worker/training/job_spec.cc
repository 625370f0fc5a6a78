#include "worker/training/job_spec.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace mw {

namespace {

using nlohmann::json;

Status FieldError(const std::string& source, const std::string& field, const std::string& rule) {
  return Status::InvalidArgument(source + ": " + field + ": " + rule);
}

// Reads an optional integer field with a lower bound.
Status ReadInt(const json& j, const std::string& source, const char* field, int64_t min,
               int64_t* out) {
  if (!j.contains(field)) return Status::Ok();
  const json& v = j.at(field);
  if (!v.is_number_integer()) return FieldError(source, field, "must be an integer");
  const int64_t value = v.get<int64_t>();
  if (value < min) {
    return FieldError(source, field, std::to_string(value) + " must be >= " + std::to_string(min));
  }
  *out = value;
  return Status::Ok();
}

Status ReadDouble(const json& j, const std::string& source, const char* field, double* out,
                  bool* given = nullptr) {
  if (!j.contains(field)) return Status::Ok();
  const json& v = j.at(field);
  if (!v.is_number()) return FieldError(source, field, "must be a number");
  *out = v.get<double>();
  if (given != nullptr) *given = true;
  return Status::Ok();
}

Status ReadString(const json& j, const std::string& source, const char* field, std::string* out) {
  if (!j.contains(field)) return Status::Ok();
  if (!j.at(field).is_string()) return FieldError(source, field, "must be a string");
  *out = j.at(field).get<std::string>();
  return Status::Ok();
}

std::string LineAndColumn(const std::string& text, size_t byte) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i + 1 < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::to_string(line) + ":" + std::to_string(column);
}

}  // namespace

void JobSpec::ResolveLearningRates(int world_size) {
  const double global_batch = 2.0 * static_cast<double>(trainer.local_batch * world_size);
  if (!lr_given) trainer.lr = 0.48 * global_batch / 4096.0;
  if (!classifier_lr_given) trainer.classifier_lr = trainer.lr;
}

Status ParseJobSpec(const std::string& text, const std::string& source, JobSpec* out) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    what =
        what.substr(what.find("parse error") == std::string::npos ? 0 : what.find("parse error"));
    return Status::InvalidArgument(source + ":" + LineAndColumn(text, e.byte) + ": " + what);
  }
  if (!j.is_object()) return Status::InvalidArgument(source + ": the spec must be a JSON object");
  static const std::set<std::string> kFields = {
      "dataset",           "train_subset", "test_subset",   "backbone",    "dim",
      "hidden_dim",        "temperature",  "top_k",         "smoothing",   "chunk_rows",
      "logit_cache_bytes", "epochs",       "warmup_epochs", "local_batch", "lr",
      "classifier_lr",     "momentum",     "weight_decay",  "seed"};
  for (const auto& [key, value] : j.items()) {
    if (kFields.count(key) == 0) return FieldError(source, key, "is not a job spec field");
  }
  JobSpec spec;
  TrainerConfig& t = spec.trainer;
  ClassifierConfig& c = t.classifier;
  MW_RETURN_IF_ERROR(ReadString(j, source, "dataset", &spec.dataset));
  if (spec.dataset != "fashion-mnist") {
    return FieldError(source, "dataset", "'" + spec.dataset + "' is not one of: fashion-mnist");
  }
  MW_RETURN_IF_ERROR(ReadInt(j, source, "train_subset", 0, &spec.train_subset));
  MW_RETURN_IF_ERROR(ReadInt(j, source, "test_subset", 0, &spec.test_subset));
  MW_RETURN_IF_ERROR(ReadString(j, source, "backbone", &t.backbone));
  if (t.backbone != "small" && t.backbone != "resnet18" && t.backbone != "resnet50") {
    return FieldError(source, "backbone",
                      "'" + t.backbone + "' is not one of: small, resnet18, resnet50");
  }
  MW_RETURN_IF_ERROR(ReadInt(j, source, "dim", 1, &c.dim));
  MW_RETURN_IF_ERROR(ReadInt(j, source, "hidden_dim", 1, &t.hidden_dim));
  MW_RETURN_IF_ERROR(ReadDouble(j, source, "temperature", &c.temperature));
  MW_RETURN_IF_ERROR(ReadInt(j, source, "top_k", 1, &c.top_k));
  MW_RETURN_IF_ERROR(ReadDouble(j, source, "smoothing", &c.smoothing));
  MW_RETURN_IF_ERROR(ReadInt(j, source, "chunk_rows", 0, &c.chunk_rows));
  MW_RETURN_IF_ERROR(ReadInt(j, source, "logit_cache_bytes", -1, &c.logit_cache_bytes));
  MW_RETURN_IF_ERROR(ReadInt(j, source, "epochs", 1, &t.epochs));
  MW_RETURN_IF_ERROR(ReadInt(j, source, "warmup_epochs", 0, &t.warmup_epochs));
  MW_RETURN_IF_ERROR(ReadInt(j, source, "local_batch", 1, &t.local_batch));
  MW_RETURN_IF_ERROR(ReadDouble(j, source, "lr", &t.lr, &spec.lr_given));
  MW_RETURN_IF_ERROR(
      ReadDouble(j, source, "classifier_lr", &t.classifier_lr, &spec.classifier_lr_given));
  MW_RETURN_IF_ERROR(ReadDouble(j, source, "momentum", &t.momentum));
  MW_RETURN_IF_ERROR(ReadDouble(j, source, "weight_decay", &t.weight_decay));
  int64_t seed = 0;
  MW_RETURN_IF_ERROR(ReadInt(j, source, "seed", 0, &seed));
  t.seed = static_cast<uint64_t>(seed);
  if (t.warmup_epochs > t.epochs) {
    return FieldError(
        source, "warmup_epochs",
        std::to_string(t.warmup_epochs) + " must be <= epochs = " + std::to_string(t.epochs));
  }
  if (spec.lr_given && !(t.lr > 0)) return FieldError(source, "lr", "must be > 0");
  if (spec.classifier_lr_given && !(t.classifier_lr > 0)) {
    return FieldError(source, "classifier_lr", "must be > 0");
  }
  if (!(t.momentum >= 0 && t.momentum < 1))
    return FieldError(source, "momentum", "must be in [0, 1)");
  // The classifier's own rules (N is the dataset's size, checked again when it is known).
  ClassifierConfig probe = c;
  probe.num_classes = std::max<int64_t>(c.top_k + 1, 1);
  const Status classifier = probe.Validate(1);
  if (!classifier.ok()) return Status::InvalidArgument(source + ": " + classifier.message());
  *out = spec;
  return Status::Ok();
}

Status LoadJobSpec(const std::string& path, JobSpec* out) {
  std::ifstream in(path);
  if (!in) return Status::NotFound(path + ": cannot open the job spec");
  std::stringstream text;
  text << in.rdbuf();
  return ParseJobSpec(text.str(), path, out);
}

}  // namespace mw
