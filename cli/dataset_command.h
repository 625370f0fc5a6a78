// `mwctl dataset`: packs images into WebDataset shards and verifies packed sets.
//
//   mwctl dataset pack --from DIR | --fashion-mnist train|test --out DIR [--shard-size 1G]
//   mwctl dataset check LOCATION        (a directory, http(s):// or s3:// URL)
#pragma once

#include <cstdint>
#include <string>

#include "worker/data/shards/object_store_flags.h"

namespace CLI {
class App;
}

namespace mw {

struct DatasetCommand {
  CLI::App* pack = nullptr;
  CLI::App* check = nullptr;
  std::string from;           // an image folder (ImageNet's layout)
  std::string fashion_mnist;  // train | test
  std::string out;
  std::string shard_size = "1G";
  int64_t limit = 0;  // the first n images only; 0: all
  std::string location;
  ObjectStoreFlags store;
};

void AddDatasetCommands(CLI::App& app, DatasetCommand* command);
// The exit code: 0, 1 for a failed check or pack, 2 for bad arguments.
int RunDatasetCommand(DatasetCommand& command);

}  // namespace mw
