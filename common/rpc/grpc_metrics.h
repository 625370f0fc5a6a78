// Request counts and latencies of a gRPC server, by method and status code, recorded by a
// server interceptor (grpc::experimental), so every service gets them without a line in its
// handlers: millionway_grpc_server_handled_total{service, method, code} and
// millionway_grpc_server_handling_seconds{service, method, code}. The methods are the services'
// own, a bounded set.
#pragma once

#include <grpcpp/support/server_interceptor.h>

#include <memory>

namespace mw {

class MetricsServer;

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> GrpcMetricsInterceptor(
    MetricsServer* metrics);

}  // namespace mw
