// JobServiceImpl: the user-facing API (proto/millionway/v1/job.proto) over the Coordinator.
// When a token is configured, every call must carry "authorization: Bearer <token>"
// metadata; a missing or wrong token is UNAUTHENTICATED and nothing is done.
#pragma once

#include <string>

#include "coordinator/coordinator.h"
#include "millionway/v1/job.grpc.pb.h"

namespace mw {

class JobServiceImpl final : public millionway::v1::JobService::Service {
 public:
  JobServiceImpl(Coordinator* coordinator, std::string token)
      : coordinator_(coordinator), token_(std::move(token)) {}

  grpc::Status Submit(grpc::ServerContext* context, const millionway::v1::SubmitJobRequest* request,
                      millionway::v1::SubmitJobResponse* response) override;
  grpc::Status Get(grpc::ServerContext* context, const millionway::v1::GetJobRequest* request,
                   millionway::v1::Job* response) override;
  grpc::Status List(grpc::ServerContext* context, const millionway::v1::ListJobsRequest* request,
                    millionway::v1::ListJobsResponse* response) override;
  grpc::Status Cancel(grpc::ServerContext* context, const millionway::v1::CancelJobRequest* request,
                      millionway::v1::Job* response) override;
  grpc::Status Scale(grpc::ServerContext* context, const millionway::v1::ScaleJobRequest* request,
                     millionway::v1::Job* response) override;
  grpc::Status Watch(grpc::ServerContext* context, const millionway::v1::WatchJobRequest* request,
                     grpc::ServerWriter<millionway::v1::Job>* writer) override;

 private:
  grpc::Status Authorize(grpc::ServerContext* context) const;
  void Fill(const JobRecord& record, millionway::v1::Job* job);

  Coordinator* coordinator_;
  std::string token_;
};

}  // namespace mw
