// The object-store flags every program that reads packed datasets takes, each with its
// environment variable (Kubernetes sets them from the chart's values and Secret).
#pragma once

#include <string>

#include "worker/data/shards/byte_source.h"

namespace CLI {
class App;
}

namespace mw {

struct ObjectStoreFlags {
  ObjectStoreOptions options;
  std::string credentials_dir;
};

void AddObjectStoreFlags(CLI::App& app, ObjectStoreFlags* flags);
// After parsing: the credentials, from the directory if one was given, else the environment.
Status ResolveObjectStoreFlags(ObjectStoreFlags* flags);

}  // namespace mw
