// CheckpointCommit: the coordinator's side of committing a checkpoint across the shard
// servers, and of undoing one that did not commit everywhere.
//
// A checkpoint of a job counts when the coordinator records it as the job's last_checkpoint
// in SQLite, after every shard server committed its part. Between the first shard commit and
// that record the system can stop at any instant (a shard server fails, a gang member is lost
// mid-commit, the coordinator is killed), leaving some servers with a committed checkpoint
// the job does not know. SQLite's last_checkpoint is therefore the commit point: on every
// shard server, a committed checkpoint of a job newer than its last_checkpoint is a commit
// that did not happen, and Discard removes it before the job runs again (the job redoes that
// stretch of work; it loses nothing it had committed). Shard commits are idempotent for the
// same pieces, so a commit retried after a lost answer succeeds.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/rpc/client_channel.h"
#include "common/status.h"
#include "millionway/v1/worker.pb.h"
#include "shard_server/shard_client.h"

namespace mw {

class CheckpointCommit {
 public:
  // One client per shard server, in the rows' partition order.
  static Status Create(const std::vector<std::string>& addresses,
                       const ConnectionOptions& connection, std::unique_ptr<CheckpointCommit>* out);

  // Commits checkpoint `checkpoint` of `job_id` on every shard server, with the pieces the
  // ranks reported writing; keeps the last `keep_last` (0: all). The first error stops it,
  // annotated with the server.
  Status Commit(const std::string& job_id, uint64_t checkpoint,
                const std::map<uint32_t, millionway::v1::TaskReport>& reports, uint32_t keep_last);

  // Deletes, on every shard server, the committed checkpoints of `job_id` newer than
  // `last_checkpoint`. *discarded (optional) counts those deleted, also when a later server
  // fails. An unreachable server is an error: the job must not run until this succeeds.
  Status Discard(const std::string& job_id, uint64_t last_checkpoint, int* discarded = nullptr);

 private:
  std::vector<std::string> addresses_;
  std::vector<std::unique_ptr<ShardClient>> shards_;
};

}  // namespace mw
