// WorkerServiceImpl: the workers' side of the coordinator (proto/millionway/v1/worker.proto).
#pragma once

#include "coordinator/coordinator.h"
#include "millionway/v1/worker.grpc.pb.h"

namespace mw {

class WorkerServiceImpl final : public millionway::v1::WorkerService::Service {
 public:
  explicit WorkerServiceImpl(Coordinator* coordinator, std::chrono::milliseconds heartbeat)
      : coordinator_(coordinator), heartbeat_(heartbeat) {}

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
};

}  // namespace mw
