#include "cli/job_client.h"

#include <grpcpp/client_context.h>

#include <chrono>

#include "common/rpc/grpc_status.h"

namespace mw {

namespace v1 = millionway::v1;

namespace {

// Every unary call ends within this, so a coordinator that hangs cannot hang mwctl.
constexpr auto kCallDeadline = std::chrono::seconds(30);

void SetDeadline(grpc::ClientContext* context, std::chrono::seconds after) {
  context->set_deadline(std::chrono::system_clock::now() + after);
}

}  // namespace

Status JobClient::Connect(const ConnectionOptions& options, std::unique_ptr<JobClient>* out) {
  std::shared_ptr<grpc::Channel> channel;
  MW_RETURN_IF_ERROR(OpenChannel(options, &channel));
  auto client = std::unique_ptr<JobClient>(new JobClient());
  client->stub_ = v1::JobService::NewStub(channel);
  *out = std::move(client);
  return Status::Ok();
}

Status JobClient::Submit(const std::string& name, const std::string& spec_json, uint32_t world_size,
                         int32_t priority, v1::Job* out, uint32_t min_world_size, bool if_absent,
                         bool* created) {
  grpc::ClientContext context;
  SetDeadline(&context, kCallDeadline);
  v1::SubmitJobRequest request;
  request.set_name(name);
  request.set_spec_json(spec_json);
  request.set_world_size(world_size);
  request.set_priority(priority);
  request.set_min_world_size(min_world_size);
  request.set_if_absent(if_absent);
  v1::SubmitJobResponse response;
  MW_RETURN_IF_ERROR(FromGrpc(stub_->Submit(&context, request, &response)));
  *out = response.job();
  if (created != nullptr) *created = response.created();
  return Status::Ok();
}

Status JobClient::Get(const std::string& id, v1::Job* out) {
  grpc::ClientContext context;
  SetDeadline(&context, kCallDeadline);
  v1::GetJobRequest request;
  request.set_id(id);
  return FromGrpc(stub_->Get(&context, request, out));
}

Status JobClient::List(v1::JobState state, uint32_t page_size, const std::string& page_token,
                       v1::ListJobsResponse* out) {
  grpc::ClientContext context;
  SetDeadline(&context, kCallDeadline);
  v1::ListJobsRequest request;
  request.set_state(state);
  request.set_page_size(page_size);
  request.set_page_token(page_token);
  return FromGrpc(stub_->List(&context, request, out));
}

Status JobClient::Cancel(const std::string& id, v1::Job* out) {
  grpc::ClientContext context;
  SetDeadline(&context, kCallDeadline);
  v1::CancelJobRequest request;
  request.set_id(id);
  return FromGrpc(stub_->Cancel(&context, request, out));
}

Status JobClient::Scale(const std::string& id, uint32_t world_size, uint32_t min_world_size,
                        v1::Job* out) {
  grpc::ClientContext context;
  SetDeadline(&context, kCallDeadline);
  v1::ScaleJobRequest request;
  request.set_id(id);
  request.set_world_size(world_size);
  request.set_min_world_size(min_world_size);
  return FromGrpc(stub_->Scale(&context, request, out));
}

Status JobClient::Watch(const std::string& id, const std::function<void(const v1::Job&)>& on_update,
                        std::chrono::seconds deadline) {
  grpc::ClientContext context;
  if (deadline.count() > 0) SetDeadline(&context, deadline);
  v1::WatchJobRequest request;
  request.set_id(id);
  auto reader = stub_->Watch(&context, request);
  v1::Job job;
  while (reader->Read(&job)) on_update(job);
  return FromGrpc(reader->Finish());
}

}  // namespace mw
