#include "coordinator/worker_service.h"

#include <grpcpp/server_context.h>

#include "common/rpc/grpc_status.h"

namespace mw {

namespace v1 = millionway::v1;

grpc::Status WorkerServiceImpl::Register(grpc::ServerContext*, const v1::RegisterRequest* request,
                                         v1::RegisterResponse* response) {
  std::string id;
  const Status s = coordinator_->Register(request->name(), request->rendezvous_address(), &id);
  if (!s.ok()) return ToGrpc(s);
  response->set_worker_id(id);
  response->set_heartbeat_interval_ms(static_cast<uint32_t>(heartbeat_.count()));
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest* request,
                                          v1::HeartbeatResponse* response) {
  response->set_known(coordinator_->Heartbeat(request->worker_id(), request->leaving()));
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::Tasks(grpc::ServerContext* context,
                                      const v1::TaskStreamRequest* request,
                                      grpc::ServerWriter<v1::Task>* writer) {
  while (!context->IsCancelled()) {
    v1::Task task;
    const Status s =
        coordinator_->NextTask(request->worker_id(), std::chrono::milliseconds(500), &task);
    if (s.code() == Status::Code::kDeadlineExceeded) continue;
    if (!s.ok()) return ToGrpc(s);
    if (!writer->Write(task)) break;
  }
  // The stream is the worker's lifeline: when it breaks, the worker is gone.
  coordinator_->Disconnected(request->worker_id());
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::Report(grpc::ServerContext*, const v1::TaskReport* request,
                                       v1::ReportResponse*) {
  return ToGrpc(coordinator_->Report(*request));
}

}  // namespace mw
