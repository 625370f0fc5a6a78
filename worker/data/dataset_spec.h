// DatasetSpec: which images a job trains and evaluates on, as the job spec names them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "worker/data/shards/byte_source.h"

namespace mw {

class Dataset;

struct DatasetSpec {
  std::string kind = "fashion-mnist";  // fashion-mnist | image-folder | shards | synthetic
  std::string train_dir;               // image-folder: training images
  std::string test_dir;                // image-folder: labelled evaluation images (optional)
  // shards: packed datasets (mwctl dataset pack), as a directory, http(s):// or s3:// URL.
  std::string train_shards;
  std::string test_shards;  // optional
  int64_t synthetic_size = 100000;
  int64_t synthetic_labels = 10;
  int image_size = 32;       // synthetic images' side
  int64_t train_subset = 0;  // the first n training images; 0: all
  int64_t test_subset = 0;   // the first n evaluation images; 0: all
};

// Opens the training set and, where the spec has one, the evaluation set (*test stays null
// otherwise). `store` reaches object storage for shards. Errors name the file, directory or
// URL and what is wrong.
Status OpenDatasets(const DatasetSpec& spec, uint64_t seed, const ObjectStoreOptions& store,
                    std::unique_ptr<Dataset>* train, std::unique_ptr<Dataset>* test);

}  // namespace mw
