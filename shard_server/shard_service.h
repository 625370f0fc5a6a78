// ShardServiceImpl: the gRPC face of a CheckpointStore (proto/millionway/v1/shard.proto).
// Requests are checked before anything touches the disk: names against the allowed
// alphabet, row ranges against their sizes, stream messages against the size limit; a bad
// request gets INVALID_ARGUMENT naming the field, and a stream cut short leaves no piece.
#pragma once

#include <cstdint>

#include "millionway/v1/shard.grpc.pb.h"
#include "shard_server/checkpoint_store.h"
#include "shard_server/shard_metrics.h"

namespace mw {

class ShardServiceImpl final : public millionway::v1::ShardService::Service {
 public:
  // Largest data field accepted in one WritePiece message.
  static constexpr size_t kMaxChunkBytes = 4u << 20;

  ShardServiceImpl(CheckpointStore* store, ShardMetrics* metrics)
      : store_(store), metrics_(metrics) {}

  grpc::Status WritePiece(grpc::ServerContext* context,
                          grpc::ServerReader<millionway::v1::WritePieceRequest>* reader,
                          millionway::v1::WritePieceResponse* response) override;
  grpc::Status Commit(grpc::ServerContext* context, const millionway::v1::CommitRequest* request,
                      millionway::v1::CommitResponse* response) override;
  grpc::Status ReadRows(grpc::ServerContext* context,
                        const millionway::v1::ReadRowsRequest* request,
                        grpc::ServerWriter<millionway::v1::ReadRowsResponse>* writer) override;
  grpc::Status ReadBlob(grpc::ServerContext* context,
                        const millionway::v1::ReadBlobRequest* request,
                        grpc::ServerWriter<millionway::v1::ReadBlobResponse>* writer) override;
  grpc::Status ListCheckpoints(grpc::ServerContext* context,
                               const millionway::v1::ListCheckpointsRequest* request,
                               millionway::v1::ListCheckpointsResponse* response) override;
  grpc::Status DeleteCheckpoint(grpc::ServerContext* context,
                                const millionway::v1::DeleteCheckpointRequest* request,
                                millionway::v1::DeleteCheckpointResponse* response) override;

 private:
  CheckpointStore* store_;
  ShardMetrics* metrics_;
};

// The proto header <-> the store's record (bytes and checksums aside).
PieceRecord RecordOf(const millionway::v1::PieceHeader& header);
void FillHeader(const PieceRecord& record, millionway::v1::PieceHeader* header);
void FillInfo(const PieceRecord& record, millionway::v1::PieceInfo* info);

}  // namespace mw
