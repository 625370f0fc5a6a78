// The metrics endpoint as Prometheus and the kubelet see it, over real sockets: probes and
// scrapes answer, readiness follows the service, and clients that misbehave (idle, slow,
// oversized) cost the others nothing.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include <prometheus/counter.h>

#include "common/metrics/metrics_server.h"

namespace mw {
namespace {

int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends `request` and reads until the server closes, up to `deadline`; "" on timeout.
std::string Exchange(int port, const std::string& request,
                     std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
  const int fd = Connect(port);
  if (fd < 0) return "";
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string answer;
  const auto end = std::chrono::steady_clock::now() + deadline;
  char buffer[4096];
  while (std::chrono::steady_clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    answer.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return answer;
}

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
