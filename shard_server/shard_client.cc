#include "shard_server/shard_client.h"

#include <grpcpp/client_context.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "common/rpc/grpc_status.h"
#include "shard_server/piece_proto.h"

namespace mw {

namespace v1 = millionway::v1;

namespace {

// Every call has a deadline, so a hung shard server (SIGSTOP, a dead node whose connection
// never resets) fails the call instead of blocking its caller. Calls that move bytes get time
// in proportion, at a rate any disk and network in service beat by far.
// Capped at a day, so that no byte count can overflow the clock's arithmetic.
void SetDeadline(grpc::ClientContext* context, uint64_t bytes = 0) {
  constexpr uint64_t kFloorSeconds = 30;
  constexpr uint64_t kMaxSeconds = 24 * 3600;
  constexpr uint64_t kBytesPerSecond = 4u << 20;
  const uint64_t seconds = std::min(kMaxSeconds, kFloorSeconds + bytes / kBytesPerSecond);
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(static_cast<int64_t>(seconds)));
}

// a * b, or the largest uint64 where that overflows.
uint64_t SaturatingProduct(uint64_t a, uint64_t b) {
  return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

}  // namespace

ShardClient::ShardClient(std::shared_ptr<grpc::Channel> channel)
    : stub_(v1::ShardService::NewStub(channel)) {}

Status ShardClient::WritePiece(const std::string& job_id, uint64_t checkpoint, uint32_t attempt,
                               const PieceRecord& header, const void* data, size_t bytes,
                               PieceRecord* out) {
  grpc::ClientContext context;
  SetDeadline(&context, bytes);
  v1::WritePieceResponse response;
  auto writer = stub_->WritePiece(&context, &response);
  const char* p = static_cast<const char*>(data);
  size_t sent = 0;
  do {
    v1::WritePieceRequest message;
    if (sent == 0) {
      FillHeader(header, message.mutable_header());
      message.mutable_header()->set_job_id(job_id);
      message.mutable_header()->set_checkpoint(checkpoint);
      message.mutable_header()->set_attempt(attempt);
    }
    const size_t n = std::min(kChunkBytes, bytes - sent);
    message.set_data(p + sent, n);
    sent += n;
    if (!writer->Write(message)) break;  // the server ended the call: Finish says why
  } while (sent < bytes);
  writer->WritesDone();
  MW_RETURN_IF_ERROR(FromGrpc(writer->Finish()));
  if (response.piece().bytes() != bytes || response.piece().checksum() != Checksum(data, bytes)) {
    return Status::DataLoss(header.tensor + ": the shard server received " +
                            std::to_string(response.piece().bytes()) + " bytes that are not the " +
                            std::to_string(bytes) + " sent");
  }
  if (out != nullptr) {
    *out = RecordOf(response.piece().header());
    out->bytes = response.piece().bytes();
    out->checksum = response.piece().checksum();
  }
  return Status::Ok();
}

Status ShardClient::Commit(const std::string& job_id, uint64_t checkpoint, uint32_t attempt,
                           const std::vector<PieceRecord>& pieces, uint32_t keep_last,
                           uint64_t recorded_checkpoint, std::chrono::seconds timeout) {
  grpc::ClientContext context;
  // The server checks each piece's record of what it received, not the bytes themselves:
  // the time a commit takes does not grow with the checkpoint.
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  v1::CommitRequest request;
  request.set_job_id(job_id);
  request.set_checkpoint(checkpoint);
  request.set_attempt(attempt);
  request.set_keep_last(keep_last);
  request.set_recorded_checkpoint(recorded_checkpoint);
  for (const auto& p : pieces) FillInfo(p, request.add_pieces());
  v1::CommitResponse response;
  return FromGrpc(stub_->Commit(&context, request, &response));
}

Status ShardClient::ReadRows(const std::string& job_id, uint64_t checkpoint,
                             const std::string& tensor, uint64_t row_begin, uint64_t row_end,
                             std::string* out) {
  grpc::ClientContext context;
  SetDeadline(&context,
              row_end > row_begin ? SaturatingProduct(row_end - row_begin, kDeadlineRowBytes) : 0);
  v1::ReadRowsRequest request;
  request.set_job_id(job_id);
  request.set_checkpoint(checkpoint);
  request.set_tensor(tensor);
  request.set_row_begin(row_begin);
  request.set_row_end(row_end);
  auto reader = stub_->ReadRows(&context, request);
  out->clear();
  v1::ReadRowsResponse chunk;
  while (reader->Read(&chunk)) out->append(chunk.data());
  return FromGrpc(reader->Finish());
}

Status ShardClient::ReadBlob(const std::string& job_id, uint64_t checkpoint,
                             const std::string& tensor, std::string* out) {
  grpc::ClientContext context;
  SetDeadline(&context, kDeadlineBlobBytes);
  v1::ReadBlobRequest request;
  request.set_job_id(job_id);
  request.set_checkpoint(checkpoint);
  request.set_tensor(tensor);
  auto reader = stub_->ReadBlob(&context, request);
  out->clear();
  v1::ReadBlobResponse chunk;
  while (reader->Read(&chunk)) out->append(chunk.data());
  return FromGrpc(reader->Finish());
}

Status ShardClient::List(const std::string& job_id, std::vector<uint64_t>* out) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::ListCheckpointsRequest request;
  request.set_job_id(job_id);
  v1::ListCheckpointsResponse response;
  MW_RETURN_IF_ERROR(FromGrpc(stub_->ListCheckpoints(&context, request, &response)));
  out->clear();
  for (const auto& c : response.checkpoints()) out->push_back(c.checkpoint());
  return Status::Ok();
}

Status ShardClient::Fence(const std::string& job_id, uint32_t attempt) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::FenceRequest request;
  request.set_job_id(job_id);
  request.set_attempt(attempt);
  v1::FenceResponse response;
  return FromGrpc(stub_->Fence(&context, request, &response));
}

Status ShardClient::Delete(const std::string& job_id, uint64_t checkpoint) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::DeleteCheckpointRequest request;
  request.set_job_id(job_id);
  request.set_checkpoint(checkpoint);
  v1::DeleteCheckpointResponse response;
  return FromGrpc(stub_->DeleteCheckpoint(&context, request, &response));
}

}  // namespace mw
