// The outsider's view of every gRPC service: a real cluster (LocalCluster: shard server,
// coordinator) is called on every method of JobService, WorkerService and ShardService,
// found through the protos' descriptors so a method added later is walked too, with no
// credential, a wrong one, and each role's token. Only the role a method is for gets past
// authorization; the others get UNAUTHENTICATED or PERMISSION_DENIED.
#include <google/protobuf/descriptor.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "cli/local_cluster.h"
#include "common/process_group.h"
#include "common/rpc/authorization.h"
#include "common/rpc/client_channel.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "millionway/v1/job.grpc.pb.h"
#include "millionway/v1/shard.grpc.pb.h"
#include "millionway/v1/worker.grpc.pb.h"
#include "tests/support/generic_call.h"

namespace mw {
namespace {

grpc::Status CallWithEmptyRequest(const std::shared_ptr<grpc::Channel>& channel,
                                  const std::string& method) {
  return CallWithRequestBytes(channel, method, "", std::chrono::seconds(20));
}

std::vector<std::string> Methods(const std::string& service) {
  // Linking the generated code registers its files with the pool.
  millionway::v1::SubmitJobRequest::descriptor();
  millionway::v1::RegisterRequest::descriptor();
  millionway::v1::CommitRequest::descriptor();
  const auto* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
  EXPECT_NE(descriptor, nullptr) << service;
  std::vector<std::string> out;
  for (int i = 0; descriptor != nullptr && i < descriptor->method_count(); ++i) {
    out.push_back("/" + service + "/" + descriptor->method(i)->name());
  }
  return out;
}

class Auth : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.dir =
        (std::filesystem::temp_directory_path() / ("mw_auth_" + std::to_string(getpid()))).string();
    options_.bin_dir = HelperPath("../bin");
    options_.shard_servers = 1;
    options_.workers = 0;
    ASSERT_TRUE(LocalCluster::Start(options_, &cluster_).ok());
    for (const Role role : {Role::kUser, Role::kWorker, Role::kCoordinator}) {
      ASSERT_TRUE(ReadTokenFile(cluster_->auth_dir() + "/" + RoleName(role) + ".token",
                                &tokens_[RoleName(role)])
                      .ok());
    }
  }
  void TearDown() override {
    if (cluster_) cluster_->Stop();
    std::filesystem::remove_all(options_.dir);
  }
  std::shared_ptr<grpc::Channel> Channel(const std::string& address, const std::string& token) {
    ConnectionOptions connection;
    connection.address = address;
    connection.token = token;
    std::shared_ptr<grpc::Channel> channel;
    EXPECT_TRUE(OpenChannel(connection, &channel).ok());
    return channel;
  }

  LocalClusterOptions options_;
  std::unique_ptr<LocalCluster> cluster_;
  std::map<std::string, std::string> tokens_;
};

TEST_F(Auth, EveryMethodOfEveryServiceAdmitsOnlyItsRoles) {
  // Which roles each method is for; a method missing here fails the test.
  const std::map<std::string, std::set<std::string>> allowed = {
      {"/millionway.v1.JobService/Submit", {"user"}},
      {"/millionway.v1.JobService/Get", {"user"}},
      {"/millionway.v1.JobService/List", {"user"}},
      {"/millionway.v1.JobService/Cancel", {"user"}},
      {"/millionway.v1.JobService/Scale", {"user"}},
      {"/millionway.v1.JobService/Watch", {"user"}},
      {"/millionway.v1.WorkerService/Register", {"worker"}},
      {"/millionway.v1.WorkerService/Heartbeat", {"worker"}},
      {"/millionway.v1.WorkerService/Tasks", {"worker"}},
      {"/millionway.v1.WorkerService/Report", {"worker"}},
      {"/millionway.v1.ShardService/WritePiece", {"worker"}},
      {"/millionway.v1.ShardService/Commit", {"coordinator"}},
      {"/millionway.v1.ShardService/ReadRows", {"user", "worker", "coordinator"}},
      {"/millionway.v1.ShardService/ReadBlob", {"user", "worker", "coordinator"}},
      {"/millionway.v1.ShardService/ListCheckpoints", {"user", "worker", "coordinator"}},
      {"/millionway.v1.ShardService/DeleteCheckpoint", {"coordinator"}},
      {"/millionway.v1.ShardService/Fence", {"coordinator"}},
  };
  const std::map<std::string, std::string> address = {
      {"millionway.v1.JobService", cluster_->coordinator_address()},
      {"millionway.v1.WorkerService", cluster_->coordinator_address()},
      {"millionway.v1.ShardService", cluster_->shard_addresses()[0]},
  };
  int walked = 0;
  for (const auto& [service, where] : address) {
    for (const std::string& method : Methods(service)) {
      ASSERT_EQ(allowed.count(method), 1u) << method << " has no stated roles";
      ++walked;
      for (const char* token : {"", "not-a-token"}) {
        const grpc::Status s = CallWithEmptyRequest(Channel(where, token), method);
        EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
            << method << " with token '" << token << "': " << s.error_message();
      }
      for (const auto& [role, token] : tokens_) {
        const grpc::Status s = CallWithEmptyRequest(Channel(where, token), method);
        if (allowed.at(method).count(role)) {
          EXPECT_NE(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << method << " " << role;
          EXPECT_NE(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << method << " " << role;
        } else {
          EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
              << method << " as " << role << ": " << s.error_message();
        }
      }
    }
  }
  EXPECT_EQ(walked, static_cast<int>(allowed.size()));
}

TEST_F(Auth, AWorkerIdIsBoundToItsOneTaskStream) {
  namespace v1 = millionway::v1;
  auto stub =
      v1::WorkerService::NewStub(Channel(cluster_->coordinator_address(), tokens_["worker"]));
  grpc::ClientContext registering;
  v1::RegisterRequest request;
  request.set_name("probe");
  request.set_rendezvous_address("127.0.0.1:1");
  v1::RegisterResponse registered;
  ASSERT_TRUE(stub->Register(&registering, request, &registered).ok());
  EXPECT_EQ(registered.worker_id().size(), 2u + 32u) << "w- and 128 random bits in hex";
  // Two task streams for one id, opened together: whichever the server binds second is
  // refused at once; the other stays open (no tasks come) until its deadline.
  v1::TaskStreamRequest open;
  open.set_worker_id(registered.worker_id());
  grpc::StatusCode codes[2];
  std::thread streams[2];
  for (int i = 0; i < 2; ++i) {
    streams[i] = std::thread([&, i] {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(4));
      auto reader = stub->Tasks(&context, open);
      v1::Task task;
      while (reader->Read(&task)) {
      }
      codes[i] = reader->Finish().error_code();
    });
  }
  for (auto& t : streams) t.join();
  const int refused = (codes[0] == grpc::StatusCode::ALREADY_EXISTS) +
                      (codes[1] == grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(refused, 1) << codes[0] << " " << codes[1];
  EXPECT_TRUE(codes[0] == grpc::StatusCode::DEADLINE_EXCEEDED ||
              codes[1] == grpc::StatusCode::DEADLINE_EXCEEDED)
      << "the bound stream stayed open to its deadline";
}

TEST_F(Auth, ProbesAreOpenAndReflectionIsOff) {
  const auto channel = Channel(cluster_->coordinator_address(), "");
  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(health->Check(&context, request, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  const grpc::Status reflection = CallWithEmptyRequest(
      channel, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo");
  EXPECT_EQ(reflection.error_code(), grpc::StatusCode::UNIMPLEMENTED) << reflection.error_message();
  const grpc::Status other = CallWithEmptyRequest(channel, "/foo.Bar/Baz");
  EXPECT_EQ(other.error_code(), grpc::StatusCode::UNIMPLEMENTED) << other.error_message();
}

TEST(AuthConfig, ATokenNeverCrossesTheNetworkInPlaintextUnlessAllowed) {
  ConnectionOptions remote;
  remote.address = "10.1.2.3:7070";
  remote.token = "t";
  std::shared_ptr<grpc::Channel> channel;
  const Status refused = OpenChannel(remote, &channel);
  EXPECT_EQ(refused.code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(refused.message().find("10.1.2.3:7070"), std::string::npos) << refused.message();
  remote.allow_plaintext_token = true;
  EXPECT_TRUE(OpenChannel(remote, &channel).ok());
  for (const char* loopback : {"127.0.0.1:1", "localhost:1", "[::1]:1"}) {
    EXPECT_TRUE(IsLoopbackAddress(loopback)) << loopback;
  }
  for (const char* other : {"10.0.0.1:1", "coordinator.ns.svc:7070", "[fe80::1]:1"}) {
    EXPECT_FALSE(IsLoopbackAddress(other)) << other;
  }
}

TEST(AuthConfig, AServerWithNoWayToAuthenticateRefusesToStart) {
  Authorizer authorizer;
  const Status none = Authorizer::Create(AuthOptions{}, false, &authorizer);
  EXPECT_EQ(none.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(none.message().find("--auth-dir"), std::string::npos) << none.message();
  EXPECT_TRUE(Authorizer::Create(AuthOptions{}, true, &authorizer).ok());  // mutual TLS
  AuthOptions open;
  open.allow_unauthenticated = true;
  EXPECT_TRUE(Authorizer::Create(open, false, &authorizer).ok());
  AuthOptions empty_dir;
  empty_dir.token_dir = std::filesystem::temp_directory_path().string();
  EXPECT_EQ(Authorizer::Create(empty_dir, false, &authorizer).code(),
            Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace mw
