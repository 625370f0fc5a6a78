#include "coordinator/checkpoint_commit.h"

#include <algorithm>

#include "common/fault_points.h"
#include "common/row_partition.h"
#include "shard_server/checkpoint_coverage.h"
#include "shard_server/piece_proto.h"

namespace mw {

Status CheckpointCommit::Create(const std::vector<std::string>& addresses,
                                const ConnectionOptions& connection, std::chrono::seconds timeout,
                                std::unique_ptr<CheckpointCommit>* out) {
  auto commit = std::make_unique<CheckpointCommit>();
  commit->addresses_ = addresses;
  commit->connection_ = connection;
  commit->timeout_ = timeout;
  for (const auto& address : addresses) {
    if (commit->Client(address) == nullptr) {
      return Status::InvalidArgument("shard server " + address + ": cannot open a channel");
    }
  }
  *out = std::move(commit);
  return Status::Ok();
}

ShardClient* CheckpointCommit::Client(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& client = clients_[address];
  if (!client) {
    ConnectionOptions shard = connection_;
    shard.address = address;
    std::shared_ptr<grpc::Channel> channel;
    if (!OpenChannel(shard, &channel).ok()) {
      clients_.erase(address);
      return nullptr;
    }
    client = std::make_unique<ShardClient>(channel);
  }
  return client.get();
}

// Each piece on the server a load will ask: rows on the server whose partition range holds
// them, blobs on server 0 (trainer_checkpoint.h).
Status CheckpointCommit::VerifyPlacement(const std::vector<std::vector<PieceRecord>>& per_server) {
  const int servers = static_cast<int>(per_server.size());
  for (int s = 0; s < servers; ++s) {
    for (const PieceRecord& p : per_server[static_cast<size_t>(s)]) {
      if (!p.rows) {
        if (s == 0) continue;
        return Status::FailedPrecondition("blob " + p.tensor + " written to server " +
                                          std::to_string(s) + ", not server 0");
      }
      const RowPartition partition(static_cast<int64_t>(p.total_rows), servers);
      if (static_cast<int64_t>(p.row_begin) < partition.begin(s) ||
          static_cast<int64_t>(p.row_end) > partition.end(s)) {
        return Status::FailedPrecondition(
            p.tensor + " rows [" + std::to_string(p.row_begin) + ", " + std::to_string(p.row_end) +
            ") written to server " + std::to_string(s) + ", which holds [" +
            std::to_string(partition.begin(s)) + ", " + std::to_string(partition.end(s)) + ")");
      }
    }
  }
  return Status::Ok();
}

Status CheckpointCommit::Commit(const std::string& job_id, uint64_t checkpoint, uint32_t attempt,
                                uint64_t recorded,
                                const std::map<uint32_t, millionway::v1::TaskReport>& reports,
                                uint32_t keep_last) {
  std::vector<std::vector<PieceRecord>> per_server(addresses_.size());
  std::vector<PieceRecord> all;
  for (const auto& [rank, report] : reports) {
    for (const auto& written : report.pieces()) {
      if (written.server() >= addresses_.size()) {
        return Status::InvalidArgument("rank " + std::to_string(rank) + " reports shard server " +
                                       std::to_string(written.server()) + " of " +
                                       std::to_string(addresses_.size()));
      }
      PieceRecord piece = RecordOf(written.piece().header());
      piece.bytes = written.piece().bytes();
      piece.checksum = written.piece().checksum();
      per_server[written.server()].push_back(piece);
      all.push_back(piece);
    }
  }
  MW_RETURN_IF_ERROR(VerifyCoverage(all).Annotate("checkpoint " + std::to_string(checkpoint)));
  MW_RETURN_IF_ERROR(
      VerifyPlacement(per_server).Annotate("checkpoint " + std::to_string(checkpoint)));
  MW_RETURN_IF_ERROR(FaultPoint("coordinator.commit.before_shards"));
  for (size_t s = 0; s < addresses_.size(); ++s) {
    if (s > 0) MW_RETURN_IF_ERROR(FaultPoint("coordinator.commit.between_shards"));
    ShardClient* shard = Client(addresses_[s]);
    Status committed =
        shard->Commit(job_id, checkpoint, attempt, per_server[s], keep_last, recorded, timeout_);
    if (committed.code() == Status::Code::kUnavailable) {
      // The answer may be what was lost: the same commit again is the same commit.
      committed =
          shard->Commit(job_id, checkpoint, attempt, per_server[s], keep_last, recorded, timeout_);
    }
    MW_RETURN_IF_ERROR(committed.Annotate("shard server " + addresses_[s]));
  }
  return FaultPoint("coordinator.commit.after_shards");
}

Status CheckpointCommit::Discard(const std::string& job_id, uint64_t last_checkpoint,
                                 uint32_t next_attempt, const std::vector<std::string>& layout,
                                 int* discarded) {
  int ignored = 0;
  int& count = discarded != nullptr ? *discarded : ignored;
  count = 0;
  std::vector<std::string> servers = addresses_;
  for (const auto& address : layout) {
    if (std::find(servers.begin(), servers.end(), address) == servers.end()) {
      servers.push_back(address);
    }
  }
  for (const auto& address : servers) {
    ShardClient* shard = Client(address);
    if (shard == nullptr) return Status::Unavailable("shard server " + address + ": no channel");
    // The fence first: from here on nothing of an older gang can commit on this server, so
    // what the list shows is all there will be to discard.
    MW_RETURN_IF_ERROR(shard->Fence(job_id, next_attempt).Annotate("shard server " + address));
    std::vector<uint64_t> committed;
    MW_RETURN_IF_ERROR(shard->List(job_id, &committed).Annotate("shard server " + address));
    for (const uint64_t checkpoint : committed) {
      if (checkpoint <= last_checkpoint) continue;
      const Status deleted = shard->Delete(job_id, checkpoint);
      if (!deleted.ok() && deleted.code() != Status::Code::kNotFound) {
        return deleted.Annotate("shard server " + address);
      }
      ++count;
    }
  }
  return Status::Ok();
}

}  // namespace mw
