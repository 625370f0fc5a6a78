// JobClient: mwctl's connection to a coordinator's JobService, with the bearer token and TLS
// settings a deployment asks for.
#pragma once

#include <grpcpp/channel.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/rpc/client_channel.h"
#include "common/status.h"
#include "millionway/v1/job.grpc.pb.h"

namespace mw {

class JobClient {
 public:
  static Status Connect(const ConnectionOptions& options, std::unique_ptr<JobClient>* out);

  // min_world_size > 0 makes the job elastic; if_absent returns the job of that name if there
  // is one, with *created false (see SubmitJobRequest).
  Status Submit(const std::string& name, const std::string& spec_json, uint32_t world_size,
                int32_t priority, millionway::v1::Job* out, uint32_t min_world_size = 0,
                bool if_absent = false, bool* created = nullptr);
  Status Get(const std::string& id, millionway::v1::Job* out);
  Status List(millionway::v1::JobState state, uint32_t page_size, const std::string& page_token,
              millionway::v1::ListJobsResponse* out);
  Status Cancel(const std::string& id, millionway::v1::Job* out);
  Status Scale(const std::string& id, uint32_t world_size, uint32_t min_world_size,
               millionway::v1::Job* out);
  // Calls on_update for every state the server streams, until the job ends.
  // Until the job ends (or `deadline`, when given, passes). Unary calls end within 30 s.
  Status Watch(const std::string& id,
               const std::function<void(const millionway::v1::Job&)>& on_update,
               std::chrono::seconds deadline = std::chrono::seconds(0));

 private:
  std::unique_ptr<millionway::v1::JobService::Stub> stub_;
};

}  // namespace mw
