// The metrics endpoint as Prometheus and the kubelet see it, over real sockets: probes and
// scrapes answer, readiness follows the service, and clients that misbehave (idle, slow,
// oversized) cost the others nothing.
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include <prometheus/counter.h>

#include "common/metrics/metrics_server.h"
#include "tests/support/loopback_client.h"

namespace mw {
namespace {

std::string Get(int port, const std::string& path) {
  return Exchange(port, "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
}

class MetricsEndpoint : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(MetricsServer::Start({}, "test", &server_).ok()); }
  std::unique_ptr<MetricsServer> server_;
};

TEST_F(MetricsEndpoint, ServesMetricsProbesAndReadiness) {
  auto& family = RegisterFamily(prometheus::BuildCounter(), *server_, "millionway_test_total",
                                "a counter of the test");
  family.Add({}).Increment(3);
  const std::string metrics = Get(server_->port(), "/metrics");
  EXPECT_NE(metrics.find("HTTP/1.1 200"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("millionway_test_total{role=\"test\"} 3"), std::string::npos) << metrics;
  EXPECT_NE(Get(server_->port(), "/healthz").find("200 OK"), std::string::npos);
  EXPECT_NE(Get(server_->port(), "/readyz").find("503"), std::string::npos);
  server_->SetReady(true);
  EXPECT_NE(Get(server_->port(), "/readyz").find("200 OK"), std::string::npos);
  EXPECT_NE(Get(server_->port(), "/nothing").find("404"), std::string::npos);
  EXPECT_NE(Exchange(server_->port(), "POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n").find("405"),
            std::string::npos);
}

TEST_F(MetricsEndpoint, HealthzAnswersWhileAHundredIdleConnectionsAreHeld) {
  std::vector<int> idle;
  for (int i = 0; i < 100; ++i) {
    const int fd = Connect(server_->port());
    ASSERT_GE(fd, 0);
    idle.push_back(fd);
  }
  // One more that sent half a request and stalls.
  const int slow = Connect(server_->port());
  ::send(slow, "GET /metr", 9, MSG_NOSIGNAL);
  // A generous deadline: this checks that an answer comes at all, not how fast.
  const std::string answer =
      Exchange(server_->port(), "GET /healthz HTTP/1.1\r\n\r\n", std::chrono::seconds(4));
  EXPECT_NE(answer.find("200 OK"), std::string::npos) << "no answer behind idle connections";
  for (const int fd : idle) ::close(fd);
  ::close(slow);
}

TEST_F(MetricsEndpoint, OversizedHeadersAreRefusedWithoutAnAnswer) {
  const std::string huge =
      "GET /healthz HTTP/1.1\r\nX-Fill: " + std::string(64 * 1024, 'a') + "\r\n\r\n";
  EXPECT_EQ(Exchange(server_->port(), huge).find("200 OK"), std::string::npos);
  EXPECT_NE(Get(server_->port(), "/healthz").find("200 OK"), std::string::npos);
}

TEST_F(MetricsEndpoint, AnIdleConnectionIsClosedAfterItsDeadline) {
  const int fd = Connect(server_->port());
  ASSERT_GE(fd, 0);
  pollfd p{fd, POLLIN, 0};
  // The server closes it (a read of 0 bytes) within its 5 s deadline; 30 s is the test's.
  ASSERT_EQ(::poll(&p, 1, 30000), 1);
  char byte;
  EXPECT_EQ(::recv(fd, &byte, 1, 0), 0);
  ::close(fd);
}

}  // namespace
}  // namespace mw
