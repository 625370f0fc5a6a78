#include "worker/training/job_spec.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/yaml_to_json.h"

namespace mw {

namespace {

using nlohmann::json;

// Instances: row indices are 32-bit in the samplers and top-k tables (2^31 - 1 rows is 1 TiB
// of classifier at d = 128, far beyond ImageNet-21K's 14.2M).
constexpr int64_t kMaxInstances = (int64_t{1} << 31) - 1;
constexpr int64_t kMaxLabels = 1 << 20;

Status FieldError(const std::string& source, const std::string& field, const std::string& rule) {
  return Status::InvalidArgument(source + ": " + field + ": " + rule);
}

// Reads an optional integer field within [min, max]. The upper bounds follow from what one
// machine can hold or run (see kLimits), so a spec cannot ask a worker for the impossible
// and overflow arithmetic derived from it.
Status ReadInt(const json& j, const std::string& source, const char* field, int64_t min,
               int64_t max, int64_t* out) {
  if (!j.contains(field)) return Status::Ok();
  const json& v = j.at(field);
  if (!v.is_number_integer()) return FieldError(source, field, "must be an integer");
  const std::string range =
      " must be in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  // Compared as unsigned first: 2^64-1 read as int64 would be -1.
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(max)) {
    return FieldError(source, field, std::to_string(v.get<uint64_t>()) + range);
  }
  const int64_t value = v.get<int64_t>();
  if (value < min || value > max) return FieldError(source, field, std::to_string(value) + range);
  *out = value;
  return Status::Ok();
}

// Every field that only one dataset kind uses; given with another kind it is a mistake.
Status RefuseFieldsOfOtherDatasets(const json& j, const std::string& source,
                                   const std::string& kind) {
  const std::vector<std::pair<const char*, const char*>> owners = {
      {"train_dir", "image-folder"},   {"test_dir", "image-folder"},
      {"train_shards", "shards"},      {"test_shards", "shards"},
      {"synthetic_size", "synthetic"}, {"synthetic_labels", "synthetic"}};
  for (const auto& [field, owner] : owners) {
    if (j.contains(field) && kind != owner) {
      return FieldError(source, field,
                        std::string("applies to dataset ") + owner + " only, not " + kind);
    }
  }
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

Status ReadBool(const json& j, const std::string& source, const char* field, bool* out) {
  if (!j.contains(field)) return Status::Ok();
  if (!j.at(field).is_boolean()) return FieldError(source, field, "must be true or false");
  *out = j.at(field).get<bool>();
  return Status::Ok();
}

Status ReadString(const json& j, const std::string& source, const char* field, std::string* out) {
  constexpr size_t kMaxStringBytes = 4096;  // PATH_MAX
  if (!j.contains(field)) return Status::Ok();
  if (!j.at(field).is_string()) return FieldError(source, field, "must be a string");
  if (j.at(field).get_ref<const std::string&>().size() > kMaxStringBytes) {
    return FieldError(source, field, "longer than " + std::to_string(kMaxStringBytes) + " bytes");
  }
  *out = j.at(field).get<std::string>();
  return Status::Ok();
}

Status RefuseUnknownFields(const json& j, const std::string& source, const std::string& prefix,
                           const std::set<std::string>& fields) {
  for (const auto& [key, value] : j.items()) {
    if (fields.count(key) == 0) return FieldError(source, prefix + key, "is not a job spec field");
  }
  return Status::Ok();
}

// "augmentation": {...}: any subset of AugmentationSpec's fields over the dataset's defaults.
Status ReadAugmentation(const json& j, const std::string& source, AugmentationSpec* out) {
  if (!j.contains("augmentation")) return Status::Ok();
  const json& a = j.at("augmentation");
  if (!a.is_object()) return FieldError(source, "augmentation", "must be an object");
  AugmentationSpec& spec = *out;
  const std::vector<std::pair<const char*, double*>> numbers = {
      {"crop_scale_min", &spec.crop_scale_min},
      {"crop_scale_max", &spec.crop_scale_max},
      {"crop_ratio_min", &spec.crop_ratio_min},
      {"crop_ratio_max", &spec.crop_ratio_max},
      {"flip_probability", &spec.flip_probability},
      {"jitter_probability", &spec.jitter_probability},
      {"brightness", &spec.brightness},
      {"contrast", &spec.contrast},
      {"saturation", &spec.saturation},
      {"hue", &spec.hue},
      {"grayscale_probability", &spec.grayscale_probability},
      {"blur_probability", &spec.blur_probability},
      {"blur_sigma_min", &spec.blur_sigma_min},
      {"blur_sigma_max", &spec.blur_sigma_max}};
  std::set<std::string> fields = {"output_size", "mean", "std"};
  for (const auto& [name, value] : numbers) fields.insert(name);
  MW_RETURN_IF_ERROR(RefuseUnknownFields(a, source, "augmentation.", fields));
  const std::string where = source + ": augmentation";
  for (const auto& [name, value] : numbers) MW_RETURN_IF_ERROR(ReadDouble(a, where, name, value));
  MW_RETURN_IF_ERROR(ReadInt(a, where, "output_size", 1, 1024, &spec.output_size));
  for (const auto& [name, values] :
       {std::pair<const char*, std::vector<float>*>{"mean", &spec.mean}, {"std", &spec.std}}) {
    if (!a.contains(name)) continue;
    const json& list = a.at(name);
    if (!list.is_array() || list.empty() || list.size() > 4) {
      return FieldError(where, name, "must be a list of 1-4 numbers, one per channel");
    }
    values->clear();
    for (const json& v : list) {
      if (!v.is_number() || !(std::fabs(v.get<double>()) < 1e6)) {
        return FieldError(where, name, "must be a list of numbers within +-1e6");
      }
      values->push_back(v.get<float>());
    }
  }
  const Status valid = spec.Validate();
  if (!valid.ok()) return Status::InvalidArgument(where + "." + valid.message());
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
  } catch (const json::exception& e) {  // e.g. a number too large for a double
    return Status::InvalidArgument(source + ": " + e.what());
  }
  if (!j.is_object()) return Status::InvalidArgument(source + ": the spec must be a JSON object");
  MW_RETURN_IF_ERROR(RefuseUnknownFields(j, source, "",
                                         {"dataset",
                                          "train_dir",
                                          "test_dir",
                                          "train_shards",
                                          "test_shards",
                                          "augmentation_preset",
                                          "synthetic_size",
                                          "synthetic_labels",
                                          "image_size",
                                          "train_subset",
                                          "test_subset",
                                          "backbone",
                                          "dim",
                                          "hidden_dim",
                                          "temperature",
                                          "top_k",
                                          "smoothing",
                                          "chunk_rows",
                                          "logit_cache_bytes",
                                          "epochs",
                                          "warmup_epochs",
                                          "max_steps_per_epoch",
                                          "local_batch",
                                          "lr",
                                          "classifier_lr",
                                          "momentum",
                                          "weight_decay",
                                          "seed",
                                          "prior",
                                          "augmentation",
                                          "loader_threads",
                                          "prefetch_batches",
                                          "evaluate_before_training",
                                          "evaluate_every_epoch",
                                          "linear_probe",
                                          "evaluation_subset",
                                          "checkpoint_every_steps",
                                          "fine_tune_fractions",
                                          "fine_tune_epochs",
                                          "device",
                                          "precision",
                                          "sampled_classes"}));
  JobSpec spec;
  TrainerConfig& t = spec.trainer;
  ClassifierConfig& c = t.classifier;
  DatasetSpec& d = spec.data;
  MW_RETURN_IF_ERROR(ReadString(j, source, "dataset", &d.kind));
  if (d.kind != "fashion-mnist" && d.kind != "image-folder" && d.kind != "shards" &&
      d.kind != "synthetic") {
    return FieldError(
        source, "dataset",
        "'" + d.kind + "' is not one of: fashion-mnist, image-folder, shards, synthetic");
  }
  MW_RETURN_IF_ERROR(RefuseFieldsOfOtherDatasets(j, source, d.kind));
  MW_RETURN_IF_ERROR(ReadString(j, source, "train_dir", &d.train_dir));
  MW_RETURN_IF_ERROR(ReadString(j, source, "test_dir", &d.test_dir));
  if (d.kind == "image-folder" && d.train_dir.empty()) {
    return FieldError(source, "train_dir", "is required when dataset is image-folder");
  }
  MW_RETURN_IF_ERROR(ReadString(j, source, "train_shards", &d.train_shards));
  MW_RETURN_IF_ERROR(ReadString(j, source, "test_shards", &d.test_shards));
  if (d.kind == "shards" && d.train_shards.empty()) {
    return FieldError(source, "train_shards", "is required when dataset is shards");
  }
  MW_RETURN_IF_ERROR(ReadInt(j, source, "synthetic_size", 1, kMaxInstances, &d.synthetic_size));
  MW_RETURN_IF_ERROR(ReadInt(j, source, "synthetic_labels", 1, kMaxLabels, &d.synthetic_labels));
  int64_t image_size = d.image_size;
  MW_RETURN_IF_ERROR(ReadInt(j, source, "image_size", 8, 1024, &image_size));
  d.image_size = static_cast<int>(image_size);
  MW_RETURN_IF_ERROR(ReadInt(j, source, "train_subset", 0, kMaxInstances, &d.train_subset));
  MW_RETURN_IF_ERROR(ReadInt(j, source, "test_subset", 0, kMaxInstances, &d.test_subset));
  // The preset the augmentation block starts from: the dataset's own by default; a packed
  // Fashion-MNIST names its preset.
  std::string preset = d.kind == "fashion-mnist" ? "fashion-mnist" : "imagenet";
  MW_RETURN_IF_ERROR(ReadString(j, source, "augmentation_preset", &preset));
  if (preset == "fashion-mnist") {
    t.augmentation = AugmentationSpec::FashionMnist();
  } else if (preset == "imagenet") {
    t.augmentation = AugmentationSpec::ImageNet();
    if (d.kind == "synthetic") t.augmentation.output_size = d.image_size;
  } else {
    return FieldError(source, "augmentation_preset",
                      "'" + preset + "' is not one of: fashion-mnist, imagenet");
  }
  MW_RETURN_IF_ERROR(ReadAugmentation(j, source, &t.augmentation));
  std::string prior = "contrastive";
  MW_RETURN_IF_ERROR(ReadString(j, source, "prior", &prior));
  if (prior == "contrastive") {
    t.init = ClassifierInit::kContrastivePrior;
  } else if (prior == "frozen_bn") {
    t.init = ClassifierInit::kFrozenBnPrior;
  } else if (prior == "gaussian") {
    t.init = ClassifierInit::kGaussian;
  } else {
    return FieldError(source, "prior",
                      "'" + prior + "' is not one of: contrastive, frozen_bn, gaussian");
  }
  int64_t loader_threads = t.loader_threads, prefetch = t.prefetch_batches;
  MW_RETURN_IF_ERROR(ReadInt(j, source, "loader_threads", 1, 256, &loader_threads));
  MW_RETURN_IF_ERROR(ReadInt(j, source, "prefetch_batches", 1, 1024, &prefetch));
  t.loader_threads = static_cast<int>(loader_threads);
  t.prefetch_batches = static_cast<int>(prefetch);
  MW_RETURN_IF_ERROR(
      ReadBool(j, source, "evaluate_before_training", &spec.evaluate_before_training));
  MW_RETURN_IF_ERROR(ReadBool(j, source, "evaluate_every_epoch", &spec.evaluate_every_epoch));
  MW_RETURN_IF_ERROR(ReadBool(j, source, "linear_probe", &spec.linear_probe));
  MW_RETURN_IF_ERROR(
      ReadInt(j, source, "evaluation_subset", 0, kMaxInstances, &spec.evaluation_subset));
  MW_RETURN_IF_ERROR(
      ReadInt(j, source, "checkpoint_every_steps", 0, kMaxInstances, &spec.checkpoint_every_steps));
  MW_RETURN_IF_ERROR(ReadInt(j, source, "fine_tune_epochs", 1, 1000, &spec.fine_tune_epochs));
  if (j.contains("fine_tune_fractions")) {
    const json& list = j.at("fine_tune_fractions");
    if (!list.is_array() || list.size() > 16) {
      return FieldError(source, "fine_tune_fractions", "must be a list of at most 16");
    }
    for (const json& v : list) {
      if (!v.is_number() || !(v.get<double>() > 0 && v.get<double>() <= 1)) {
        return FieldError(source, "fine_tune_fractions", "every entry must be in (0, 1]");
      }
      spec.fine_tune_fractions.push_back(v.get<double>());
    }
  }
  MW_RETURN_IF_ERROR(ReadString(j, source, "backbone", &t.backbone));
  if (t.backbone != "small" && t.backbone != "resnet18" && t.backbone != "resnet50") {
    return FieldError(source, "backbone",
                      "'" + t.backbone + "' is not one of: small, resnet18, resnet50");
  }
  std::string device = c.device.ToString(), precision = PrecisionName(c.precision);
  MW_RETURN_IF_ERROR(ReadString(j, source, "device", &device));
  const Status device_valid = ParseDevice(device, &c.device);
  if (!device_valid.ok()) return Status::InvalidArgument(source + ": " + device_valid.message());
  MW_RETURN_IF_ERROR(ReadString(j, source, "precision", &precision));
  const Status precision_valid = ParsePrecision(precision, &c.precision);
  if (!precision_valid.ok()) {
    return Status::InvalidArgument(source + ": " + precision_valid.message());
  }
  MW_RETURN_IF_ERROR(ReadInt(j, source, "dim", 1, 4096, &c.dim));
  MW_RETURN_IF_ERROR(ReadInt(j, source, "hidden_dim", 1, 65536, &t.hidden_dim));
  MW_RETURN_IF_ERROR(ReadDouble(j, source, "temperature", &c.temperature));
  MW_RETURN_IF_ERROR(ReadInt(j, source, "top_k", 1, 4096, &c.top_k));
  MW_RETURN_IF_ERROR(ReadDouble(j, source, "smoothing", &c.smoothing));
  MW_RETURN_IF_ERROR(ReadInt(j, source, "chunk_rows", 0, kMaxInstances, &c.chunk_rows));
  MW_RETURN_IF_ERROR(ReadInt(j, source, "sampled_classes", 0, kMaxInstances, &c.sampled_classes));
  MW_RETURN_IF_ERROR(
      ReadInt(j, source, "logit_cache_bytes", -1, int64_t{1} << 40, &c.logit_cache_bytes));
  MW_RETURN_IF_ERROR(ReadInt(j, source, "epochs", 1, 100000, &t.epochs));
  MW_RETURN_IF_ERROR(ReadInt(j, source, "warmup_epochs", 0, 100000, &t.warmup_epochs));
  MW_RETURN_IF_ERROR(
      ReadInt(j, source, "max_steps_per_epoch", 0, kMaxInstances, &t.max_steps_per_epoch));
  MW_RETURN_IF_ERROR(ReadInt(j, source, "local_batch", 1, 65536, &t.local_batch));
  MW_RETURN_IF_ERROR(ReadDouble(j, source, "lr", &t.lr, &spec.lr_given));
  MW_RETURN_IF_ERROR(
      ReadDouble(j, source, "classifier_lr", &t.classifier_lr, &spec.classifier_lr_given));
  MW_RETURN_IF_ERROR(ReadDouble(j, source, "momentum", &t.momentum));
  MW_RETURN_IF_ERROR(ReadDouble(j, source, "weight_decay", &t.weight_decay));
  int64_t seed = 0;
  MW_RETURN_IF_ERROR(ReadInt(j, source, "seed", 0, std::numeric_limits<int64_t>::max(), &seed));
  t.seed = static_cast<uint64_t>(seed);
  if (t.warmup_epochs > t.epochs) {
    return FieldError(
        source, "warmup_epochs",
        std::to_string(t.warmup_epochs) + " must be <= epochs = " + std::to_string(t.epochs));
  }
  if (spec.lr_given && !(t.lr > 0 && t.lr <= 1e3)) {
    return FieldError(source, "lr", "must be in (0, 1000]");
  }
  if (spec.classifier_lr_given && !(t.classifier_lr > 0 && t.classifier_lr <= 1e3)) {
    return FieldError(source, "classifier_lr", "must be in (0, 1000]");
  }
  if (!(t.weight_decay >= 0 && t.weight_decay <= 1)) {
    return FieldError(source, "weight_decay", "must be in [0, 1]");
  }
  if (!(t.momentum >= 0 && t.momentum < 1))
    return FieldError(source, "momentum", "must be in [0, 1)");
  // The classifier's own rules (N is the dataset's size, checked again when it is known).
  ClassifierConfig probe = c;
  probe.num_classes = std::max<int64_t>({c.top_k + 1, c.sampled_classes, 1});
  const Status classifier = probe.Validate(1);
  if (!classifier.ok()) return Status::InvalidArgument(source + ": " + classifier.message());
  *out = spec;
  return Status::Ok();
}

Status ReadJobSpecFile(const std::string& path, std::string* json) {
  std::ifstream in(path);
  if (!in) return Status::NotFound(path + ": cannot open the job spec");
  std::stringstream text;
  text << in.rdbuf();
  const auto ends_with = [&](const std::string& suffix) {
    return path.size() >= suffix.size() &&
           path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with(".yaml") || ends_with(".yml")) return YamlToJson(text.str(), path, json);
  *json = text.str();
  return Status::Ok();
}

Status LoadJobSpec(const std::string& path, JobSpec* out) {
  std::string json;
  MW_RETURN_IF_ERROR(ReadJobSpecFile(path, &json));
  return ParseJobSpec(json, path, out);
}

}  // namespace mw
