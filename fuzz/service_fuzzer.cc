// libFuzzer target, one per gRPC service (MW_FUZZ_SERVICE names it): the fuzzer's first byte
// picks one of the service's methods, the rest is sent as its request message, which the
// real server parses and hands to the real handler, in process (a Coordinator on a temporary
// SQLite file, a CheckpointStore in a temporary directory, served on loopback). Whatever the
// bytes, the call must end with a status (never a crash, hang or sanitizer report), and the
// process must keep answering. Authorization is open here so that the handlers behind it are
// reached; auth_test covers the checks themselves.
#include <google/protobuf/descriptor.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "common/log.h"
#include "common/metrics/metrics_server.h"
#include "common/rpc/authorization.h"
#include "common/rpc/server_runner.h"
#include "coordinator/coordinator.h"
#include "coordinator/job_service.h"
#include "coordinator/worker_service.h"
#include "millionway/v1/job.pb.h"
#include "shard_server/checkpoint_store.h"
#include "shard_server/shard_service.h"
#include "tests/support/generic_call.h"

namespace {

struct Services {
  std::string dir;
  std::unique_ptr<mw::MetricsServer> metrics;
  mw::Authorizer open;
  std::unique_ptr<mw::CheckpointStore> store;
  std::unique_ptr<mw::ShardMetrics> shard_metrics;
  std::unique_ptr<mw::ShardServiceImpl> shard;
  std::unique_ptr<grpc::Server> shard_server;
  std::unique_ptr<mw::CoordinatorMetrics> coordinator_metrics;
  std::unique_ptr<mw::Coordinator> coordinator;
  std::unique_ptr<mw::JobServiceImpl> jobs;
  std::unique_ptr<mw::WorkerServiceImpl> workers;
  std::unique_ptr<grpc::Server> coordinator_server;
  std::shared_ptr<grpc::Channel> channel;
  std::vector<std::string> methods;
};

void Check(const mw::Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "service_fuzzer: %s\n", s.ToString().c_str());
    std::abort();
  }
}

Services* Start() {
  auto* s = new Services();
  s->dir = std::filesystem::temp_directory_path() / ("mw_fuzz_" + std::to_string(getpid()));
  std::filesystem::create_directories(s->dir);
  // libFuzzer ends a run with exit(): the database and checkpoints go with the process.
  static const std::string dir = s->dir;
  std::atexit([] {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  });
  mw::InitLog("fuzz", "text");
  Check(mw::MetricsServer::Start({}, "fuzz", &s->metrics));
  mw::AuthOptions open;
  open.allow_unauthenticated = true;
  Check(mw::Authorizer::Create(open, false, &s->open));
  Check(mw::CheckpointStore::Open(s->dir + "/shards", &s->store));
  s->shard_metrics = std::make_unique<mw::ShardMetrics>(*s->metrics);
  s->shard =
      std::make_unique<mw::ShardServiceImpl>(s->store.get(), s->shard_metrics.get(), s->open);
  mw::ServerOptions server;
  int port = 0;
  Check(mw::StartServer(server, {s->shard.get()}, &s->shard_server, &port));
  mw::CoordinatorOptions options;
  options.database = s->dir + "/coordinator.db";
  options.shard_servers = {"127.0.0.1:" + std::to_string(port)};
  s->coordinator_metrics = std::make_unique<mw::CoordinatorMetrics>(*s->metrics);
  options.metrics = s->coordinator_metrics.get();
  Check(mw::Coordinator::Create(options, &s->coordinator));
  s->jobs = std::make_unique<mw::JobServiceImpl>(s->coordinator.get(), s->open);
  s->workers = std::make_unique<mw::WorkerServiceImpl>(s->coordinator.get(),
                                                       std::chrono::milliseconds(500), s->open);
  Check(mw::StartServer(server, {s->jobs.get(), s->workers.get()}, &s->coordinator_server, &port));
  const std::string service = MW_FUZZ_SERVICE;
  s->channel = (service == "millionway.v1.ShardService" ? s->shard_server : s->coordinator_server)
                   ->InProcessChannel(grpc::ChannelArguments());
  millionway::v1::SubmitJobRequest::descriptor();  // registers the protos' files in the pool
  const auto* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
  if (descriptor == nullptr) std::abort();
  for (int i = 0; i < descriptor->method_count(); ++i) {
    s->methods.push_back("/" + service + "/" + descriptor->method(i)->name());
  }
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Services* services = Start();
  if (size == 0) return 0;
  const std::string& method = services->methods[data[0] % services->methods.size()];
  const std::string request(reinterpret_cast<const char*>(data) + 1, size - 1);
  // Streams that would wait (Watch, Tasks) end at the deadline.
  const grpc::Status status =
      mw::CallWithRequestBytes(services->channel, method, request, std::chrono::milliseconds(200));
  // A server that crashed or stopped answering says UNAVAILABLE; a handler never may.
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) __builtin_trap();
  return 0;
}
