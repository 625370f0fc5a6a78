// Rendezvous: how the ranks of a gang find each other. Rank 0 serves a small key-value store
// (c10d's TCPStore) at store_host:store_port; every rank connects to it. Gloo builds its
// transport on the store, and NCCL's unique id travels through it: rank 0 publishes, the
// others read (ShareFromRankZero).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"

namespace mw {

struct GangOptions {
  int rank = 0;
  int world_size = 1;
  // Rendezvous: rank 0 serves the store on store_port, the others connect to it.
  std::string store_host = "127.0.0.1";
  int store_port = 0;
  // The address this rank's transport binds to and advertises to its peers.
  std::string bind_host = "127.0.0.1";
  // Bounds the rendezvous and every collective: a peer that stops answering turns into
  // DEADLINE_EXCEEDED after this long instead of a hang.
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
};

// Fills rank, world size and rendezvous from MW_RANK, MW_WORLD_SIZE, MW_STORE_HOST and
// MW_STORE_PORT (the names a launcher or a pod spec sets); fields whose variable is unset
// keep their value.
Status GangOptionsFromEnvironment(GangOptions* options);

class Rendezvous {
 public:
  // Returns once all world_size ranks have connected, or DEADLINE_EXCEEDED.
  static Status Connect(const GangOptions& options, std::unique_ptr<Rendezvous>* out);
  ~Rendezvous();

  Status Set(const std::string& key, const std::string& value);
  // Waits up to the gang's timeout for the key to be set.
  Status Get(const std::string& key, std::string* value);

  // Rank 0 makes the value with `make` and publishes it under `key`; every other rank waits
  // for it. All ranks end with the same bytes in *value.
  Status ShareFromRankZero(const std::string& key, const std::function<Status(std::string*)>& make,
                           std::string* value);

  const GangOptions& options() const { return options_; }

  struct Impl;  // the c10d store (rendezvous_store.h), for transports built on it
  Impl& impl() { return *impl_; }

 private:
  Rendezvous(const GangOptions& options, std::unique_ptr<Impl> impl);
  GangOptions options_;
  std::unique_ptr<Impl> impl_;
};

// c10d reports transport failures as exceptions; the words tell a timeout from a peer that
// went away.
Status StatusFromTransportError(const std::string& op, const std::exception& e);

}  // namespace mw
