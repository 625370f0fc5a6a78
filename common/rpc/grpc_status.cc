#include "common/rpc/grpc_status.h"

namespace mw {

namespace {

struct CodePair {
  Status::Code ours;
  grpc::StatusCode theirs;
};

constexpr CodePair kCodes[] = {
    {Status::Code::kOk, grpc::StatusCode::OK},
    {Status::Code::kInvalidArgument, grpc::StatusCode::INVALID_ARGUMENT},
    {Status::Code::kNotFound, grpc::StatusCode::NOT_FOUND},
    {Status::Code::kDeadlineExceeded, grpc::StatusCode::DEADLINE_EXCEEDED},
    {Status::Code::kUnavailable, grpc::StatusCode::UNAVAILABLE},
    {Status::Code::kFailedPrecondition, grpc::StatusCode::FAILED_PRECONDITION},
    {Status::Code::kInternal, grpc::StatusCode::INTERNAL},
    {Status::Code::kOutOfRange, grpc::StatusCode::OUT_OF_RANGE},
    {Status::Code::kDataLoss, grpc::StatusCode::DATA_LOSS},
    {Status::Code::kCancelled, grpc::StatusCode::CANCELLED},
    {Status::Code::kAlreadyExists, grpc::StatusCode::ALREADY_EXISTS},
    {Status::Code::kUnauthenticated, grpc::StatusCode::UNAUTHENTICATED},
    {Status::Code::kResourceExhausted, grpc::StatusCode::RESOURCE_EXHAUSTED},
    {Status::Code::kPermissionDenied, grpc::StatusCode::PERMISSION_DENIED},
};

}  // namespace

grpc::Status ToGrpc(const Status& status) {
  for (const auto& pair : kCodes) {
    if (pair.ours == status.code()) return {pair.theirs, status.message()};
  }
  return {grpc::StatusCode::UNKNOWN, status.message()};
}

Status FromGrpc(const grpc::Status& status) {
  for (const auto& pair : kCodes) {
    if (pair.theirs == status.error_code())
      return Status::FromCode(pair.ours, status.error_message());
  }
  // UNKNOWN, ABORTED, UNIMPLEMENTED: the call did not do its work.
  return Status::Unavailable(std::string("rpc failed (code ") +
                             std::to_string(static_cast<int>(status.error_code())) +
                             "): " + status.error_message());
}

}  // namespace mw
