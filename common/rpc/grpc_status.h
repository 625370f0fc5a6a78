// Conversions between mw::Status and grpc::Status: the codes mirror each other, so a
// handler returns what the store said and a client gets back what the server said.
#pragma once

#include <grpcpp/support/status.h>

#include "common/status.h"

namespace mw {

grpc::Status ToGrpc(const Status& status);
Status FromGrpc(const grpc::Status& status);

}  // namespace mw
