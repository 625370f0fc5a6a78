// Calls any gRPC method by name ("/pkg.Service/Method") with one request message given as
// bytes, whatever the method's kind (unary or streaming: on the wire they are all a stream),
// reads whatever comes back and returns the final status. For tests and fuzzers that walk
// every method of a service from its descriptor.
#pragma once

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace mw {

inline grpc::Status CallWithRequestBytes(const std::shared_ptr<grpc::Channel>& channel,
                                         const std::string& method, const std::string& request,
                                         std::chrono::milliseconds deadline) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue queue;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + deadline);
  auto call = stub.PrepareCall(&context, method, &queue);
  void* tag = nullptr;
  bool ok = false;
  const auto until = [&](intptr_t want) {
    while (queue.Next(&tag, &ok) && reinterpret_cast<intptr_t>(tag) != want) {
    }
  };
  call->StartCall(reinterpret_cast<void*>(1));
  until(1);
  grpc::Slice slice(request);
  grpc::ByteBuffer message(&slice, 1);
  call->Write(message, reinterpret_cast<void*>(2));
  until(2);
  call->WritesDone(reinterpret_cast<void*>(3));
  until(3);
  grpc::ByteBuffer response;
  do {
    call->Read(&response, reinterpret_cast<void*>(4));
    until(4);
  } while (ok);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  until(5);
  queue.Shutdown();
  while (queue.Next(&tag, &ok)) {
  }
  return status;
}

}  // namespace mw
