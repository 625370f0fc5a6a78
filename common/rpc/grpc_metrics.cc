#include "common/rpc/grpc_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include <chrono>

#include "common/metrics/metrics_server.h"

namespace mw {

namespace {

namespace gx = grpc::experimental;

const char* CodeName(grpc::StatusCode code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  const auto i = static_cast<size_t>(code);
  return i < sizeof(kNames) / sizeof(kNames[0]) ? kNames[i] : "UNKNOWN";
}

struct GrpcFamilies {
  prometheus::Family<prometheus::Counter>& handled;
  prometheus::Family<prometheus::Histogram>& seconds;
};

class MetricsInterceptor : public gx::Interceptor {
 public:
  MetricsInterceptor(gx::ServerRpcInfo* info, const GrpcFamilies* families)
      : families_(families), start_(std::chrono::steady_clock::now()) {
    // "/package.Service/Method"
    const std::string full = info->method() ? info->method() : "";
    const size_t slash = full.rfind('/');
    service_ = slash == std::string::npos || slash == 0 ? "" : full.substr(1, slash - 1);
    method_ = slash == std::string::npos ? full : full.substr(slash + 1);
  }

  void Intercept(gx::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(gx::InterceptionHookPoints::PRE_SEND_STATUS)) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      const grpc::Status status = methods->GetSendStatus();
      families_->handled
          .Add(
              {{"service", service_}, {"method", method_}, {"code", CodeName(status.error_code())}})
          .Increment();
      families_->seconds
          .Add({{"service", service_}, {"method", method_}},
               prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                       0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})
          .Observe(seconds);
    }
    methods->Proceed();
  }

 private:
  const GrpcFamilies* families_;
  std::chrono::steady_clock::time_point start_;
  std::string service_, method_;
};

class MetricsInterceptorFactory : public gx::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(MetricsServer* metrics)
      : families_{prometheus::BuildCounter()
                      .Name("millionway_grpc_server_handled_total")
                      .Help("gRPC calls completed by the server, by method and status code.")
                      .Labels(metrics->labels())
                      .Register(metrics->registry()),
                  prometheus::BuildHistogram()
                      .Name("millionway_grpc_server_handling_seconds")
                      .Help("Time from a call's arrival to its status, by method and code "
                            "(streams: the stream's life).")
                      .Labels(metrics->labels())
                      .Register(metrics->registry())} {}

  gx::Interceptor* CreateServerInterceptor(gx::ServerRpcInfo* info) override {
    return new MetricsInterceptor(info, &families_);
  }

 private:
  GrpcFamilies families_;
};

}  // namespace

std::unique_ptr<gx::ServerInterceptorFactoryInterface> GrpcMetricsInterceptor(
    MetricsServer* metrics) {
  return std::make_unique<MetricsInterceptorFactory>(metrics);
}

}  // namespace mw
