#include "coordinator/worker_service.h"

#include <grpcpp/server_context.h>

#include "common/rpc/grpc_status.h"

namespace mw {

namespace v1 = millionway::v1;

grpc::Status WorkerServiceImpl::Register(grpc::ServerContext* context,
                                         const v1::RegisterRequest* request,
                                         v1::RegisterResponse* response) {
  if (auto auth = auth_.Check(*context, {Role::kWorker}); !auth.ok()) return auth;
  std::string id;
  const Status s = coordinator_->Register(request->name(), request->rendezvous_address(), &id);
  if (!s.ok()) return ToGrpc(s);
  response->set_worker_id(id);
  response->set_heartbeat_interval_ms(static_cast<uint32_t>(heartbeat_.count()));
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::Heartbeat(grpc::ServerContext* context,
                                          const v1::HeartbeatRequest* request,
                                          v1::HeartbeatResponse* response) {
  if (auto auth = auth_.Check(*context, {Role::kWorker}); !auth.ok()) return auth;
  response->set_known(coordinator_->Heartbeat(request->worker_id(), request->leaving()));
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::Tasks(grpc::ServerContext* context,
                                      const v1::TaskStreamRequest* request,
                                      grpc::ServerWriter<v1::Task>* writer) {
  if (auto auth = auth_.Check(*context, {Role::kWorker}); !auth.ok()) return auth;
  if (const Status open = coordinator_->OpenTaskStream(request->worker_id()); !open.ok()) {
    return ToGrpc(open);
  }
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

grpc::Status WorkerServiceImpl::Report(grpc::ServerContext* context, const v1::TaskReport* request,
                                       v1::ReportResponse*) {
  if (auto auth = auth_.Check(*context, {Role::kWorker}); !auth.ok()) return auth;
  if (request->pieces_size() > kMaxPiecesPerReport) {
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "pieces: at most " + std::to_string(kMaxPiecesPerReport) + " per report"};
  }
  if (request->error().size() > kMaxErrorBytes) {
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "error: at most " + std::to_string(kMaxErrorBytes) + " bytes"};
  }
  return ToGrpc(coordinator_->Report(*request));
}

}  // namespace mw
