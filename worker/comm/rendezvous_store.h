// Rendezvous::Impl: the c10d store behind a Rendezvous, for the files that build transports on
// it (Gloo's process group takes the store itself).
#pragma once

#include <torch/csrc/distributed/c10d/Store.hpp>

#include "worker/comm/rendezvous.h"

namespace mw {

struct Rendezvous::Impl {
  c10::intrusive_ptr<c10d::Store> store;
};

}  // namespace mw
