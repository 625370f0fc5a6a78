#include "coordinator/checkpoint_commit.h"

#include "common/fault_points.h"
#include "shard_server/piece_proto.h"

namespace mw {

Status CheckpointCommit::Create(const std::vector<std::string>& addresses,
                                const ConnectionOptions& connection,
                                std::unique_ptr<CheckpointCommit>* out) {
  auto commit = std::make_unique<CheckpointCommit>();
  commit->addresses_ = addresses;
  for (const auto& address : addresses) {
    ConnectionOptions shard = connection;
    shard.address = address;
    std::shared_ptr<grpc::Channel> channel;
    MW_RETURN_IF_ERROR(OpenChannel(shard, &channel));
    commit->shards_.push_back(std::make_unique<ShardClient>(channel));
  }
  *out = std::move(commit);
  return Status::Ok();
}

Status CheckpointCommit::Commit(const std::string& job_id, uint64_t checkpoint,
                                const std::map<uint32_t, millionway::v1::TaskReport>& reports,
                                uint32_t keep_last) {
  std::vector<std::vector<PieceRecord>> per_server(shards_.size());
  for (const auto& [rank, report] : reports) {
    for (const auto& written : report.pieces()) {
      if (written.server() >= shards_.size()) {
        return Status::InvalidArgument("rank " + std::to_string(rank) + " reports shard server " +
                                       std::to_string(written.server()) + " of " +
                                       std::to_string(shards_.size()));
      }
      PieceRecord piece = RecordOf(written.piece().header());
      piece.bytes = written.piece().bytes();
      piece.checksum = written.piece().checksum();
      per_server[written.server()].push_back(piece);
    }
  }
  MW_RETURN_IF_ERROR(FaultPoint("coordinator.commit.before_shards"));
  for (size_t s = 0; s < shards_.size(); ++s) {
    if (s > 0) MW_RETURN_IF_ERROR(FaultPoint("coordinator.commit.between_shards"));
    Status committed = shards_[s]->Commit(job_id, checkpoint, per_server[s], keep_last);
    if (committed.code() == Status::Code::kUnavailable ||
        committed.code() == Status::Code::kDeadlineExceeded) {
      // The answer may be what was lost: the same commit again is the same commit.
      committed = shards_[s]->Commit(job_id, checkpoint, per_server[s], keep_last);
    }
    MW_RETURN_IF_ERROR(committed.Annotate("shard server " + addresses_[s]));
  }
  return FaultPoint("coordinator.commit.after_shards");
}

Status CheckpointCommit::Discard(const std::string& job_id, uint64_t last_checkpoint,
                                 int* discarded) {
  int ignored = 0;
  int& count = discarded != nullptr ? *discarded : ignored;
  count = 0;
  for (size_t s = 0; s < shards_.size(); ++s) {
    std::vector<uint64_t> committed;
    MW_RETURN_IF_ERROR(
        shards_[s]->List(job_id, &committed).Annotate("shard server " + addresses_[s]));
    for (const uint64_t checkpoint : committed) {
      if (checkpoint <= last_checkpoint) continue;
      const Status deleted = shards_[s]->Delete(job_id, checkpoint);
      if (!deleted.ok() && deleted.code() != Status::Code::kNotFound) {
        return deleted.Annotate("shard server " + addresses_[s]);
      }
      ++count;
    }
  }
  return Status::Ok();
}

}  // namespace mw
