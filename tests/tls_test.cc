// Mutual TLS across the whole service: every process of a LocalCluster presents a
// certificate signed by the test's CA and accepts only peers signed by it. A job runs to
// COMPLETED that way (workers <-> coordinator <-> shard servers all over mTLS), and clients
// without TLS, without a certificate, or with one from another CA are refused. Certificates
// are made by scripts/make-certificates (the openssl command).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "cli/job_client.h"
#include "cli/local_cluster.h"
#include "common/process_group.h"

namespace mw {
namespace {

namespace v1 = millionway::v1;

constexpr char kSpec[] = R"({"train_subset": 200, "test_subset": 100, "epochs": 1,
  "local_batch": 50, "top_k": 10, "lr": 0.1, "classifier_lr": 1.0, "warmup_epochs": 0,
  "linear_probe": false})";

// scripts/make-certificates: a CA `name`-ca.pem and a certificate `name`.pem/.key it signed,
// valid for 127.0.0.1 as a server and as a client.
void MakeCertificates(const std::string& dir, const std::string& name) {
  const std::string command =
      std::string("'") + MW_SOURCE_DIR + "/scripts/make-certificates' '" + dir + "' " + name;
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
}

TEST(Tls, MutualTlsEverywhereAndStrangersRefused) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("mw_tls_" + std::to_string(getpid()))).string();
  std::filesystem::create_directories(dir);
  MakeCertificates(dir, "node");
  MakeCertificates(dir, "stranger");

  LocalClusterOptions options;
  options.dir = dir + "/cluster";
  options.bin_dir = HelperPath("../bin");
  options.tls_ca = dir + "/node-ca.pem";
  options.tls_cert = dir + "/node.pem";
  options.tls_key = dir + "/node.key";
  std::unique_ptr<LocalCluster> cluster;
  ASSERT_TRUE(LocalCluster::Start(options, &cluster).ok());

  const ConnectionOptions trusted = cluster->UserConnection();
  std::unique_ptr<JobClient> client;
  ASSERT_TRUE(JobClient::Connect(trusted, &client).ok());
  v1::Job job;
  ASSERT_TRUE(client->Submit("tls", kSpec, 2, 0, &job).ok());
  v1::Job last;
  ASSERT_TRUE(client->Watch(job.id(), [&](const v1::Job& j) { last = j; }).ok());
  EXPECT_EQ(last.state(), v1::COMPLETED) << last.failure();
  EXPECT_EQ(last.last_checkpoint(), 1u);

  const auto refused = [&](ConnectionOptions connection, const std::string& why) {
    connection.address = cluster->coordinator_address();
    std::unique_ptr<JobClient> c;
    ASSERT_TRUE(JobClient::Connect(connection, &c).ok());
    v1::Job j;
    const Status s = c->Get(job.id(), &j);
    EXPECT_EQ(s.code(), Status::Code::kUnavailable) << why << ": " << s.ToString();
  };
  ConnectionOptions plaintext;
  plaintext.token = trusted.token;
  refused(plaintext, "plaintext");
  ConnectionOptions no_certificate = plaintext;
  no_certificate.tls_ca = options.tls_ca;
  refused(no_certificate, "TLS without a client certificate");
  ConnectionOptions stranger = trusted;
  stranger.tls_cert = dir + "/stranger.pem";
  stranger.tls_key = dir + "/stranger.key";
  refused(stranger, "a client certificate from another CA");
  ConnectionOptions wrong_server = trusted;
  wrong_server.tls_ca = dir + "/stranger-ca.pem";
  refused(wrong_server, "a server the client's CA did not sign");

  cluster->Stop();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mw
