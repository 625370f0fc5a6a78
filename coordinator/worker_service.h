// WorkerServiceImpl: the workers' side of the coordinator (proto/millionway/v1/worker.proto).
// Every call is the worker role's; a worker id (random, 128 bits) is known only to the worker
// that registered it, so it names the caller's own stream and reports.
#pragma once

#include "common/rpc/authorization.h"
#include "coordinator/coordinator.h"
#include "millionway/v1/worker.grpc.pb.h"

namespace mw {

class WorkerServiceImpl final : public millionway::v1::WorkerService::Service {
 public:
  // A rank writes a handful of pieces per shard server; far more is not a worker's report.
  static constexpr int kMaxPiecesPerReport = 4096;
  static constexpr size_t kMaxErrorBytes = 16 * 1024;

  WorkerServiceImpl(Coordinator* coordinator, std::chrono::milliseconds heartbeat,
                    const Authorizer& auth)
      : coordinator_(coordinator), heartbeat_(heartbeat), auth_(auth) {}

  grpc::Status Register(grpc::ServerContext* context,
                        const millionway::v1::RegisterRequest* request,
                        millionway::v1::RegisterResponse* response) override;
  grpc::Status Heartbeat(grpc::ServerContext* context,
                         const millionway::v1::HeartbeatRequest* request,
                         millionway::v1::HeartbeatResponse* response) override;
  grpc::Status Tasks(grpc::ServerContext* context, const millionway::v1::TaskStreamRequest* request,
                     grpc::ServerWriter<millionway::v1::Task>* writer) override;
  grpc::Status Report(grpc::ServerContext* context, const millionway::v1::TaskReport* request,
                      millionway::v1::ReportResponse* response) override;

 private:
  Coordinator* coordinator_;
  std::chrono::milliseconds heartbeat_;
  const Authorizer& auth_;
};

}  // namespace mw
