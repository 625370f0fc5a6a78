// Status: the outcome of an operation that can fail, in the manner of LevelDB.
//
// Every fallible call in millionway returns a Status instead of throwing, so that a caller
// (a worker's task loop, a gRPC handler) can decide whether a failure is retryable, fatal
// to the job, or the user's fault, without catch-all handlers. The codes mirror the gRPC
// codes the services will map them to.
#pragma once

#include <string>
#include <utility>

namespace mw {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,  // the caller's input breaks a stated rule; retrying won't help
    kNotFound,
    kDeadlineExceeded,  // a peer or a service did not answer in time
    kUnavailable,       // a peer went away (connection closed or reset)
    kFailedPrecondition,
    kInternal,
    kOutOfRange,  // an index or position past the end
    kDataLoss,    // stored bytes are corrupt or cannot be decoded
    kCancelled,
    kAlreadyExists,
    kUnauthenticated,
    kResourceExhausted,
    kPermissionDenied,  // authenticated, but not in a role this call admits
  };

  Status() = default;

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return {Code::kInvalidArgument, std::move(msg)};
  }
  static Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status DeadlineExceeded(std::string msg) {
    return {Code::kDeadlineExceeded, std::move(msg)};
  }
  static Status Unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
  static Status FailedPrecondition(std::string msg) {
    return {Code::kFailedPrecondition, std::move(msg)};
  }
  static Status Internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }
  static Status OutOfRange(std::string msg) { return {Code::kOutOfRange, std::move(msg)}; }
  static Status DataLoss(std::string msg) { return {Code::kDataLoss, std::move(msg)}; }
  static Status Cancelled(std::string msg) { return {Code::kCancelled, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) { return {Code::kAlreadyExists, std::move(msg)}; }
  static Status Unauthenticated(std::string msg) {
    return {Code::kUnauthenticated, std::move(msg)};
  }
  static Status PermissionDenied(std::string msg) {
    return {Code::kPermissionDenied, std::move(msg)};
  }
  static Status ResourceExhausted(std::string msg) {
    return {Code::kResourceExhausted, std::move(msg)};
  }
  // For code translated from elsewhere (a gRPC status); kOk gives Ok().
  static Status FromCode(Code code, std::string msg) {
    return code == Code::kOk ? Status() : Status(code, std::move(msg));
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "INVALID_ARGUMENT: top_k = 40 must be < num_classes = 37"
  std::string ToString() const;

  // Prefixes the message with where the failure happened, keeping the code.
  Status Annotate(const std::string& context) const;

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  Code code_ = Code::kOk;
  std::string message_;
};

const char* CodeName(Status::Code code);

}  // namespace mw

#define MW_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::mw::Status mw_status_ = (expr);        \
    if (!mw_status_.ok()) return mw_status_; \
  } while (0)
