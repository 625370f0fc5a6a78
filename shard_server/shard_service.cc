#include "shard_server/shard_service.h"

#include <chrono>

#include "common/rpc/grpc_status.h"
#include "shard_server/piece_proto.h"

namespace mw {

namespace v1 = millionway::v1;

grpc::Status ShardServiceImpl::WritePiece(grpc::ServerContext* context,
                                          grpc::ServerReader<v1::WritePieceRequest>* reader,
                                          v1::WritePieceResponse* response) {
  if (auto auth = auth_.Check(*context, {Role::kWorker}); !auth.ok()) return auth;
  v1::WritePieceRequest message;
  if (!reader->Read(&message)) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "WritePiece: empty stream, no header"};
  }
  if (!message.has_header()) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "header: missing from the first message"};
  }
  const v1::PieceHeader header = message.header();
  if (header.kind() == v1::PieceHeader::KIND_UNSPECIFIED) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "header.kind: must be ROWS or BLOB"};
  }
  std::unique_ptr<CheckpointStore::PieceWriter> writer;
  Status s = store_->StartPiece(header.job_id(), header.checkpoint(), header.attempt(),
                                RecordOf(header), &writer);
  if (!s.ok()) return ToGrpc(s);
  do {
    if (message.data().size() > kMaxChunkBytes) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "data: " + std::to_string(message.data().size()) +
                                                      " bytes in one message, limit " +
                                                      std::to_string(kMaxChunkBytes)};
    }
    s = writer->Append(message.data().data(), message.data().size());
    if (!s.ok()) return ToGrpc(s);
    metrics_->written_bytes.Increment(static_cast<double>(message.data().size()));
  } while (reader->Read(&message));
  // A stream the writer abandoned ends like a finished one; a piece cut short must not be
  // recorded as whole.
  if (context->IsCancelled()) {
    return {grpc::StatusCode::CANCELLED, "WritePiece: the writer went away mid-piece"};
  }
  PieceRecord record;
  s = writer->Finish(&record);
  if (!s.ok()) return ToGrpc(s);
  FillInfo(record, response->mutable_piece());
  response->mutable_piece()->mutable_header()->set_job_id(header.job_id());
  response->mutable_piece()->mutable_header()->set_checkpoint(header.checkpoint());
  return grpc::Status::OK;
}

grpc::Status ShardServiceImpl::Commit(grpc::ServerContext* context,
                                      const v1::CommitRequest* request,
                                      v1::CommitResponse* response) {
  if (auto auth = auth_.Check(*context, {Role::kCoordinator}); !auth.ok()) return auth;
  if (request->pieces_size() > kMaxPiecesPerCheckpoint) {
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "pieces: at most " + std::to_string(kMaxPiecesPerCheckpoint) + " per checkpoint"};
  }
  std::vector<PieceRecord> pieces;
  for (const auto& info : request->pieces()) {
    PieceRecord r = RecordOf(info.header());
    r.bytes = info.bytes();
    r.checksum = info.checksum();
    pieces.push_back(std::move(r));
  }
  Manifest manifest;
  const auto start = std::chrono::steady_clock::now();
  Retention retention;
  retention.keep_last = request->keep_last();
  retention.recorded = request->recorded_checkpoint();
  // A committer past its deadline, or gone, has given up on this commit: see Commit.
  const Status s = store_->Commit(
      request->job_id(), request->checkpoint(), request->attempt(), pieces, retention,
      [context] { return context->IsCancelled(); }, &manifest);
  if (!s.ok()) return ToGrpc(s);
  metrics_->commit_seconds.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  metrics_->commits.Increment();
  double bytes = 0;
  for (const auto& piece : pieces) bytes += static_cast<double>(piece.bytes);
  metrics_->last_commit_bytes.Set(bytes);
  response->set_manifest_bytes(SerializeManifest(manifest).size());
  return grpc::Status::OK;
}

grpc::Status ShardServiceImpl::ReadRows(grpc::ServerContext* context,
                                        const v1::ReadRowsRequest* request,
                                        grpc::ServerWriter<v1::ReadRowsResponse>* writer) {
  if (auto auth = auth_.Check(*context, {Role::kWorker, Role::kCoordinator, Role::kUser});
      !auth.ok())
    return auth;
  if (request->row_begin() >= request->row_end()) {
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "row_begin: " + std::to_string(request->row_begin()) + " must be < row_end " +
                std::to_string(request->row_end())};
  }
  return ToGrpc(store_->ReadRows(request->job_id(), request->checkpoint(), request->tensor(),
                                 request->row_begin(), request->row_end(),
                                 [&](uint64_t row, const char* data, size_t bytes) {
                                   if (context->IsCancelled())
                                     return Status::Cancelled("ReadRows: the client went away");
                                   v1::ReadRowsResponse chunk;
                                   chunk.set_row_begin(row);
                                   chunk.set_data(data, bytes);
                                   metrics_->read_bytes.Increment(static_cast<double>(bytes));
                                   if (!writer->Write(chunk))
                                     return Status::Cancelled("ReadRows: the stream closed");
                                   return Status::Ok();
                                 }));
}

grpc::Status ShardServiceImpl::ReadBlob(grpc::ServerContext* context,
                                        const v1::ReadBlobRequest* request,
                                        grpc::ServerWriter<v1::ReadBlobResponse>* writer) {
  if (auto auth = auth_.Check(*context, {Role::kWorker, Role::kCoordinator, Role::kUser});
      !auth.ok())
    return auth;
  return ToGrpc(store_->ReadBlob(request->job_id(), request->checkpoint(), request->tensor(),
                                 [&](uint64_t, const char* data, size_t bytes) {
                                   if (context->IsCancelled())
                                     return Status::Cancelled("ReadBlob: the client went away");
                                   v1::ReadBlobResponse chunk;
                                   chunk.set_data(data, bytes);
                                   metrics_->read_bytes.Increment(static_cast<double>(bytes));
                                   if (!writer->Write(chunk))
                                     return Status::Cancelled("ReadBlob: the stream closed");
                                   return Status::Ok();
                                 }));
}

grpc::Status ShardServiceImpl::ListCheckpoints(grpc::ServerContext* context,
                                               const v1::ListCheckpointsRequest* request,
                                               v1::ListCheckpointsResponse* response) {
  if (auto auth = auth_.Check(*context, {Role::kWorker, Role::kCoordinator, Role::kUser});
      !auth.ok())
    return auth;
  std::vector<Manifest> manifests;
  const Status s = store_->List(request->job_id(), &manifests);
  if (!s.ok()) return ToGrpc(s);
  for (const auto& m : manifests) {
    auto* info = response->add_checkpoints();
    info->set_checkpoint(m.checkpoint);
    for (const auto& p : m.pieces) FillInfo(p, info->add_pieces());
  }
  return grpc::Status::OK;
}

grpc::Status ShardServiceImpl::DeleteCheckpoint(grpc::ServerContext* context,
                                                const v1::DeleteCheckpointRequest* request,
                                                v1::DeleteCheckpointResponse*) {
  if (auto auth = auth_.Check(*context, {Role::kCoordinator}); !auth.ok()) return auth;
  // A delete the coordinator gave up on (this server was frozen past its deadline) is not
  // carried out late, when a newer checkpoint of that number may exist.
  if (context->IsCancelled()) return {grpc::StatusCode::CANCELLED, "the caller gave up"};
  return ToGrpc(store_->Delete(request->job_id(), request->checkpoint()));
}

grpc::Status ShardServiceImpl::Fence(grpc::ServerContext* context, const v1::FenceRequest* request,
                                     v1::FenceResponse*) {
  if (auto auth = auth_.Check(*context, {Role::kCoordinator}); !auth.ok()) return auth;
  return ToGrpc(store_->Fence(request->job_id(), request->attempt()));
}

}  // namespace mw
