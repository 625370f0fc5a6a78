// ShardServiceImpl: the gRPC face of a CheckpointStore (proto/millionway/v1/shard.proto).
// Requests are checked before anything touches the disk: names against the allowed
// alphabet, row ranges against their sizes, stream messages against the size limit; a bad
// request gets INVALID_ARGUMENT naming the field, and a stream cut short leaves no piece.
// Callers are authorized by role: workers write pieces, the coordinator commits, fences and
// deletes, and anyone with a role may read (users export trained models).
#pragma once

#include <cstdint>

#include "common/rpc/authorization.h"
#include "millionway/v1/shard.grpc.pb.h"
#include "shard_server/checkpoint_store.h"
#include "shard_server/shard_metrics.h"

namespace mw {

class ShardServiceImpl final : public millionway::v1::ShardService::Service {
 public:
  // Largest data field accepted in one WritePiece message.
  static constexpr size_t kMaxChunkBytes = 4u << 20;

  // A checkpoint is a few pieces per tensor per rank; W = 4096 ranks stay well inside.
  static constexpr int kMaxPiecesPerCheckpoint = 65536;

  ShardServiceImpl(CheckpointStore* store, ShardMetrics* metrics, const Authorizer& auth)
      : store_(store), metrics_(metrics), auth_(auth) {}

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
  grpc::Status Fence(grpc::ServerContext* context, const millionway::v1::FenceRequest* request,
                     millionway::v1::FenceResponse* response) override;

 private:
  CheckpointStore* store_;
  ShardMetrics* metrics_;
  const Authorizer& auth_;
};

}  // namespace mw
