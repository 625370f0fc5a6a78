#include "coordinator/job_service.h"

#include <grpcpp/server_context.h>

#include "common/rpc/grpc_status.h"

namespace mw {

namespace v1 = millionway::v1;

void JobServiceImpl::Fill(const JobRecord& r, v1::Job* job) {
  job->set_id(r.id);
  job->set_name(r.name);
  job->set_spec_json(r.spec_json);
  job->set_world_size(r.world_size);
  job->set_min_world_size(r.min_world_size);
  job->set_priority(r.priority);
  job->set_state(static_cast<v1::JobState>(r.state));
  job->set_phase(static_cast<v1::JobPhase>(r.phase));
  job->set_epoch(r.epoch);
  job->set_epochs(r.epochs);
  job->set_step(r.step);
  job->set_steps_per_epoch(r.steps_per_epoch);
  job->set_progress(Progress(r));
  job->set_eta_seconds(r.state == JobState::kRunning ? coordinator_->EtaSeconds(r) : 0);
  job->set_last_loss(r.last_loss);
  if (r.evaluated_epoch > 0) {
    job->mutable_last_evaluation()->set_knn_top1(r.knn_top1);
    job->mutable_last_evaluation()->set_linear_top1(r.linear_top1);
    job->mutable_last_evaluation()->set_epoch(r.evaluated_epoch);
  }
  job->set_last_checkpoint(r.last_checkpoint);
  job->set_attempts(r.attempts);
  job->set_failure(r.failure);
  job->set_created_unix_ms(r.created_unix_ms);
  job->set_updated_unix_ms(r.updated_unix_ms);
  for (const auto& name : coordinator_->Gang(r.id)) job->add_workers(name);
}

grpc::Status JobServiceImpl::Submit(grpc::ServerContext* context,
                                    const v1::SubmitJobRequest* request,
                                    v1::SubmitJobResponse* response) {
  if (auto auth = auth_.Check(*context, {Role::kUser}); !auth.ok()) return auth;
  JobRecord job;
  bool created = false;
  const Status s = coordinator_->Submit(request->name(), request->spec_json(),
                                        request->world_size(), request->min_world_size(),
                                        request->priority(), request->if_absent(), &job, &created);
  if (!s.ok()) return ToGrpc(s);
  Fill(job, response->mutable_job());
  response->set_created(created);
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::Get(grpc::ServerContext* context, const v1::GetJobRequest* request,
                                 v1::Job* response) {
  if (auto auth = auth_.Check(*context, {Role::kUser}); !auth.ok()) return auth;
  JobRecord job;
  const Status s = coordinator_->Get(request->id(), &job);
  if (!s.ok()) return ToGrpc(s);
  Fill(job, response);
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::List(grpc::ServerContext* context, const v1::ListJobsRequest* request,
                                  v1::ListJobsResponse* response) {
  if (auto auth = auth_.Check(*context, {Role::kUser}); !auth.ok()) return auth;
  // Compared before any narrowing: a page_size of 2^32-1 must not wrap into "no limit".
  if (request->page_size() > kMaxPageSize) {
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "page_size: must be <= " + std::to_string(kMaxPageSize)};
  }
  const int limit = request->page_size() == 0 ? 50 : static_cast<int>(request->page_size());
  int64_t before = 0;
  if (!request->page_token().empty()) {
    try {
      size_t used = 0;
      before = std::stoll(request->page_token(), &used);
      if (used != request->page_token().size() || before <= 0) throw std::invalid_argument("");
    } catch (const std::exception&) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "page_token: not a token this server issued"};
    }
  }
  std::vector<JobRecord> jobs;
  const Status s = coordinator_->List(static_cast<int>(request->state()), before, limit, &jobs);
  if (!s.ok()) return ToGrpc(s);
  for (const auto& job : jobs) Fill(job, response->add_jobs());
  if (static_cast<int>(jobs.size()) == limit) {
    response->set_next_page_token(std::to_string(jobs.back().seq));
  }
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::Cancel(grpc::ServerContext* context,
                                    const v1::CancelJobRequest* request, v1::Job* response) {
  if (auto auth = auth_.Check(*context, {Role::kUser}); !auth.ok()) return auth;
  JobRecord job;
  const Status s = coordinator_->Cancel(request->id(), &job);
  if (!s.ok()) return ToGrpc(s);
  Fill(job, response);
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::Scale(grpc::ServerContext* context, const v1::ScaleJobRequest* request,
                                   v1::Job* response) {
  if (auto auth = auth_.Check(*context, {Role::kUser}); !auth.ok()) return auth;
  JobRecord job;
  const Status s =
      coordinator_->Scale(request->id(), request->world_size(), request->min_world_size(), &job);
  if (!s.ok()) return ToGrpc(s);
  Fill(job, response);
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::Watch(grpc::ServerContext* context, const v1::WatchJobRequest* request,
                                   grpc::ServerWriter<v1::Job>* writer) {
  if (auto auth = auth_.Check(*context, {Role::kUser}); !auth.ok()) return auth;
  uint64_t version = 0;
  while (!context->IsCancelled()) {
    JobRecord job;
    const uint64_t before = version;
    const Status s = coordinator_->Watch(request->id(), &version, std::chrono::seconds(1), &job);
    if (!s.ok()) return ToGrpc(s);
    if (version == before && before != 0) continue;  // nothing changed within the second
    v1::Job message;
    Fill(job, &message);
    if (!writer->Write(message)) break;
    if (IsFinal(job.state)) break;
  }
  return grpc::Status::OK;
}

}  // namespace mw
