#include "worker/comm/rendezvous.h"

#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cstdlib>
#include <utility>
#include <vector>

#include "worker/comm/rendezvous_store.h"

namespace mw {

namespace {

Status IntFromEnvironment(const char* name, int* out) {
  const char* text = std::getenv(name);
  if (text == nullptr) return Status::Ok();
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0') {
    return Status::InvalidArgument(std::string(name) + " = '" + text + "' is not an integer");
  }
  *out = static_cast<int>(value);
  return Status::Ok();
}

}  // namespace

Status StatusFromTransportError(const std::string& op, const std::exception& e) {
  const std::string what = e.what();
  const std::string msg = op + ": " + what.substr(0, what.find('\n'));
  if (what.find("imed out") != std::string::npos || what.find("imeout") != std::string::npos) {
    return Status::DeadlineExceeded(msg);
  }
  return Status::Unavailable(msg);
}

Status GangOptionsFromEnvironment(GangOptions* options) {
  MW_RETURN_IF_ERROR(IntFromEnvironment("MW_RANK", &options->rank));
  MW_RETURN_IF_ERROR(IntFromEnvironment("MW_WORLD_SIZE", &options->world_size));
  MW_RETURN_IF_ERROR(IntFromEnvironment("MW_STORE_PORT", &options->store_port));
  if (const char* host = std::getenv("MW_STORE_HOST")) options->store_host = host;
  return Status::Ok();
}

Rendezvous::Rendezvous(const GangOptions& options, std::unique_ptr<Impl> impl)
    : options_(options), impl_(std::move(impl)) {}
Rendezvous::~Rendezvous() = default;

Status Rendezvous::Connect(const GangOptions& options, std::unique_ptr<Rendezvous>* out) {
  if (options.world_size < 1) {
    return Status::InvalidArgument("world_size = " + std::to_string(options.world_size) +
                                   " must be >= 1");
  }
  if (options.rank < 0 || options.rank >= options.world_size) {
    return Status::InvalidArgument("rank = " + std::to_string(options.rank) + " must be in [0, " +
                                   std::to_string(options.world_size) + ")");
  }
  if (options.store_port <= 0 || options.store_port > 65535) {
    return Status::InvalidArgument("store_port = " + std::to_string(options.store_port) +
                                   " must be in [1, 65535]");
  }
  auto impl = std::make_unique<Impl>();
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(options.store_port);
    store_options.isServer = options.rank == 0;
    store_options.numWorkers = static_cast<size_t>(options.world_size);
    store_options.waitWorkers = true;
    store_options.timeout = options.timeout;
    impl->store = c10::make_intrusive<c10d::TCPStore>(options.store_host, store_options);
  } catch (const std::exception& e) {
    return StatusFromTransportError("rendezvous", e)
        .Annotate("rank " + std::to_string(options.rank) + " via " + options.store_host + ":" +
                  std::to_string(options.store_port));
  }
  out->reset(new Rendezvous(options, std::move(impl)));
  return Status::Ok();
}

Status Rendezvous::Set(const std::string& key, const std::string& value) {
  try {
    impl_->store->set(key, std::vector<uint8_t>(value.begin(), value.end()));
  } catch (const std::exception& e) {
    return StatusFromTransportError("rendezvous set " + key, e);
  }
  return Status::Ok();
}

Status Rendezvous::Get(const std::string& key, std::string* value) {
  try {
    const std::vector<uint8_t> bytes = impl_->store->get(key);
    value->assign(bytes.begin(), bytes.end());
  } catch (const std::exception& e) {
    return StatusFromTransportError("rendezvous get " + key, e);
  }
  return Status::Ok();
}

Status Rendezvous::ShareFromRankZero(const std::string& key,
                                     const std::function<Status(std::string*)>& make,
                                     std::string* value) {
  if (options_.rank != 0) return Get(key, value);
  MW_RETURN_IF_ERROR(make(value));
  return Set(key, *value);
}

}  // namespace mw
