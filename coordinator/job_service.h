// JobServiceImpl: the user-facing API (proto/millionway/v1/job.proto) over the Coordinator.
// Every call is the user role's (see common/rpc/authorization.h): a caller that proves no role
// gets UNAUTHENTICATED, one that proves another role PERMISSION_DENIED, and nothing is done.
#pragma once

#include <string>

#include "common/rpc/authorization.h"
#include "coordinator/coordinator.h"
#include "millionway/v1/job.grpc.pb.h"

namespace mw {

class JobServiceImpl final : public millionway::v1::JobService::Service {
 public:
  static constexpr uint32_t kMaxPageSize = 1000;

  JobServiceImpl(Coordinator* coordinator, const Authorizer& auth)
      : coordinator_(coordinator), auth_(auth) {}

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
  void Fill(const JobRecord& record, millionway::v1::Job* job);

  Coordinator* coordinator_;
  const Authorizer& auth_;
};

}  // namespace mw
