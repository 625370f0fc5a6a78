#include "common/metrics/metrics_server.h"

#include <prometheus/text_serializer.h>

#include <CLI/CLI.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>
#include <thread>

#include "common/durable_file.h"
#include "common/metrics/process_collector.h"

namespace mw {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;

// Asynchronous on one thread: a connection costs a socket and a small buffer until it sends a
// whole request, so idle or slow clients (a port scanner, a stuck scraper) cannot hold up a
// probe. Each connection has a deadline for reading its request and writing the answer, and
// the number open at once is capped; past the cap new connections are closed at once.
// Boost.Beast rather than prometheus-cpp's own exposer: civetweb's threads have a fixed
// 100 KiB stack, too small for the static TLS of the worker's libraries (OpenBLAS alone takes
// 60 KiB), so pthread_create fails there.
class MetricsServer::Endpoint {
 public:
  static constexpr int kMaxConnections = 256;
  static constexpr auto kConnectionDeadline = std::chrono::seconds(5);
  static constexpr uint32_t kMaxHeaderBytes = 8 * 1024;

  explicit Endpoint(MetricsServer* server) : server_(server), acceptor_(io_) {}
  ~Endpoint() {
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  Status Listen(const std::string& listen, int* port) {
    const size_t colon = listen.rfind(':');
    if (colon == std::string::npos) {
      return Status::InvalidArgument("--metrics-listen: '" + listen + "' is not host:port");
    }
    std::string host = listen.substr(0, colon);
    if (host.size() > 1 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    boost::system::error_code ec;
    tcp::resolver resolver(io_);
    const auto endpoints =
        resolver.resolve(host, listen.substr(colon + 1),
                         tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (ec || endpoints.empty()) {
      return Status::InvalidArgument("--metrics-listen: cannot resolve '" + listen +
                                     "': " + ec.message());
    }
    const tcp::endpoint endpoint = endpoints.begin()->endpoint();
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Status::Unavailable("metrics: cannot listen on " + listen + ": " + ec.message());
    *port = acceptor_.local_endpoint().port();
    Accept();
    thread_ = std::thread([this] { io_.run(); });
    return Status::Ok();
  }

 private:
  class Session;

  void Accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;
      if (open_connections_ >= kMaxConnections) {
        socket.close(ec);
      } else {
        std::make_shared<Session>(this, std::move(socket))->Start();
      }
      Accept();
    });
  }

  http::response<http::string_body> Answer(const http::request<http::empty_body>& request) {
    http::response<http::string_body> response;
    response.version(request.version());
    response.keep_alive(false);
    const std::string target(request.target());
    const std::string path = target.substr(0, target.find('?'));
    if (request.method() != http::verb::get && request.method() != http::verb::head) {
      response.result(http::status::method_not_allowed);
      response.body() = "GET only\n";
    } else if (path == "/metrics") {
      response.result(http::status::ok);
      response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      response.body() = server_->Scrape();
    } else if (path == "/healthz") {
      response.result(http::status::ok);
      response.body() = "ok\n";
    } else if (path == "/readyz") {
      const bool ready = server_->ready_.load();
      response.result(ready ? http::status::ok : http::status::service_unavailable);
      response.body() = ready ? "ready\n" : "not ready\n";
    } else {
      response.result(http::status::not_found);
      response.body() = "/metrics, /healthz or /readyz\n";
    }
    if (request.method() == http::verb::head) response.body().clear();
    response.prepare_payload();
    return response;
  }

  // One connection: read one request (headers only, bounded), answer, close.
  class Session : public std::enable_shared_from_this<Session> {
   public:
    Session(Endpoint* endpoint, tcp::socket socket)
        : endpoint_(endpoint), stream_(std::move(socket)) {
      ++endpoint_->open_connections_;
    }
    ~Session() { --endpoint_->open_connections_; }

    void Start() {
      parser_.header_limit(kMaxHeaderBytes);
      parser_.body_limit(0);
      stream_.expires_after(kConnectionDeadline);
      http::async_read(stream_, buffer_, parser_,
                       [self = shared_from_this()](boost::system::error_code ec, size_t) {
                         if (!ec) self->Write();
                       });
    }

   private:
    void Write() {
      response_ = endpoint_->Answer(parser_.get());
      http::async_write(stream_, response_,
                        [self = shared_from_this()](boost::system::error_code ec, size_t) {
                          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
                        });
    }

    Endpoint* endpoint_;
    boost::beast::tcp_stream stream_;
    boost::beast::flat_buffer buffer_{kMaxHeaderBytes};
    http::request_parser<http::empty_body> parser_;
    http::response<http::string_body> response_;
  };

  MetricsServer* server_;
  int open_connections_ = 0;  // on the io thread only; outlives io_, whose sessions count it
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

void AddMetricsFlags(CLI::App& app, MetricsOptions* options) {
  app.add_option("--metrics-listen", options->listen,
                 "host:port of /metrics, /healthz and /readyz (port 0: any free port)")
      ->envname("MW_METRICS_LISTEN");
  app.add_option("--metrics-port-file", options->port_file,
                 "write the bound metrics port to this file")
      ->envname("MW_METRICS_PORT_FILE");
}

Status MetricsServer::Start(const MetricsOptions& options, const std::string& role,
                            std::unique_ptr<MetricsServer>* out) {
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  server->labels_ = {{"role", role}};
  server->registry_ = std::make_shared<prometheus::Registry>();
  server->AddCollectable(std::make_shared<ProcessCollector>(server->labels_));
  server->endpoint_ = std::make_unique<Endpoint>(server.get());
  MW_RETURN_IF_ERROR(server->endpoint_->Listen(options.listen, &server->port_));
  if (!options.port_file.empty()) {
    MW_RETURN_IF_ERROR(WriteFileAtomically(options.port_file, std::to_string(server->port_)));
  }
  *out = std::move(server);
  return Status::Ok();
}

MetricsServer::MetricsServer() = default;

MetricsServer::~MetricsServer() { Stop(); }

void MetricsServer::Stop() { endpoint_.reset(); }

void MetricsServer::AddCollectable(std::shared_ptr<prometheus::Collectable> collectable) {
  std::lock_guard<std::mutex> lock(collectables_mutex_);
  collectables_.push_back(std::move(collectable));
}

std::string MetricsServer::Scrape() {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables;
  {
    std::lock_guard<std::mutex> lock(collectables_mutex_);
    collectables = collectables_;
  }
  for (const auto& collectable : collectables) {
    for (auto& family : collectable->Collect()) families.push_back(std::move(family));
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace mw
