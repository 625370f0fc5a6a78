// DatasetSpec: which images a job trains and evaluates on, as the job spec names them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace mw {

class Dataset;

struct DatasetSpec {
  std::string kind = "fashion-mnist";  // fashion-mnist | image-folder | synthetic
  std::string train_dir;               // image-folder: training images
  std::string test_dir;                // image-folder: labelled evaluation images (optional)
  int64_t synthetic_size = 100000;
  int64_t synthetic_labels = 10;
  int image_size = 32;       // synthetic images' side
  int64_t train_subset = 0;  // the first n training images; 0: all
  int64_t test_subset = 0;   // the first n evaluation images; 0: all
};

// Opens the training set and, where the spec has one, the evaluation set (*test stays null
// otherwise). Errors name the file or directory and what is wrong.
Status OpenDatasets(const DatasetSpec& spec, uint64_t seed, std::unique_ptr<Dataset>* train,
                    std::unique_ptr<Dataset>* test);

}  // namespace mw
