// ShardClient: one shard server, from the side that writes and reads checkpoints (workers,
// the coordinator, tests). Streams are cut into messages of at most kChunkBytes. Every call has
// a deadline (30 s, plus time in proportion to the bytes it moves).
#pragma once

#include <grpcpp/channel.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "millionway/v1/shard.grpc.pb.h"
#include "shard_server/manifest.h"

namespace mw {

class ShardClient {
 public:
  static constexpr size_t kChunkBytes = 1u << 20;
  // Reads do not know their size up front: the deadline assumes rows of at most 4 KiB
  // (d = 512 floats and their momentum) and blobs (a backbone) of at most 4 GiB.
  static constexpr uint64_t kDeadlineRowBytes = 4096;
  static constexpr uint64_t kDeadlineBlobBytes = uint64_t{4} << 30;

  explicit ShardClient(std::shared_ptr<grpc::Channel> channel);

  // Streams `bytes` as one piece of gang attempt `attempt`; *out (optional) is the server's
  // record of it. DATA_LOSS when the server's checksum of what it received is not that of
  // what was sent.
  Status WritePiece(const std::string& job_id, uint64_t checkpoint, uint32_t attempt,
                    const PieceRecord& header, const void* data, size_t bytes, PieceRecord* out);
  // Commits this server's part of a checkpoint (see CommitRequest); gives up after `timeout`.
  Status Commit(const std::string& job_id, uint64_t checkpoint, uint32_t attempt,
                const std::vector<PieceRecord>& pieces, uint32_t keep_last,
                uint64_t recorded_checkpoint,
                std::chrono::seconds timeout = std::chrono::seconds(30));
  Status Fence(const std::string& job_id, uint32_t attempt);
  // Rows [row_begin, row_end) of `tensor` into `out` (resized to fit).
  Status ReadRows(const std::string& job_id, uint64_t checkpoint, const std::string& tensor,
                  uint64_t row_begin, uint64_t row_end, std::string* out);
  Status ReadBlob(const std::string& job_id, uint64_t checkpoint, const std::string& tensor,
                  std::string* out);
  // Committed checkpoint numbers, oldest first.
  Status List(const std::string& job_id, std::vector<uint64_t>* out);
  Status Delete(const std::string& job_id, uint64_t checkpoint);

 private:
  std::unique_ptr<millionway::v1::ShardService::Stub> stub_;
};

}  // namespace mw
