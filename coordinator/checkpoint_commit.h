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
//
// Three rules keep that true when calls outlive the coordinator's interest in them:
//  - Fencing. Every piece and commit carries the gang attempt that made it, and Discard
//    first fences the job at the next attempt on every server: a commit of the old gang still
//    in flight (a server that was frozen past the deadline, then resumed) is refused at its
//    last step rather than landing after the discard.
//  - Retention below the commit point. Servers prune only checkpoints older than the one
//    SQLite records, so a commit that fails on one server never leaves another without the
//    checkpoint the job restarts from, whatever keep_last is.
//  - Coverage. No checkpoint commits unless the ranks' pieces together hold every row of
//    every row tensor and every blob (checkpoint_coverage.h).
// And a checkpoint records the servers it was written to (the job's checkpoint_shard_servers),
// so that it loads, and is discarded, wherever it lies after the servers are scaled.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/rpc/client_channel.h"
#include "common/status.h"
#include "millionway/v1/worker.pb.h"
#include "shard_server/shard_client.h"

namespace mw {

class CheckpointCommit {
 public:
  // `addresses`: the shard servers new checkpoints are written to, in the rows' partition
  // order. A shard commit not answered within `timeout` is given up (and discarded).
  static Status Create(const std::vector<std::string>& addresses,
                       const ConnectionOptions& connection, std::chrono::seconds timeout,
                       std::unique_ptr<CheckpointCommit>* out);

  // Commits checkpoint `checkpoint` of `job_id`, written by gang attempt `attempt`, on every
  // shard server, with the pieces the ranks reported writing, once they are verified to cover
  // the whole state. `recorded` is the job's last_checkpoint in SQLite: retention keeps it and
  // everything newer, and beyond that the last `keep_last` (0: all). The first error stops
  // it, annotated with the server.
  Status Commit(const std::string& job_id, uint64_t checkpoint, uint32_t attempt, uint64_t recorded,
                const std::map<uint32_t, millionway::v1::TaskReport>& reports, uint32_t keep_last);

  // Fences the job at `next_attempt`, then deletes the committed checkpoints of `job_id` newer
  // than `last_checkpoint`, on every shard server and on those of `layout` (the servers the
  // last checkpoint was written to). *discarded (optional) counts those deleted, also when a
  // later server fails. An unreachable server is an error: the job must not run until this
  // succeeds.
  Status Discard(const std::string& job_id, uint64_t last_checkpoint, uint32_t next_attempt,
                 const std::vector<std::string>& layout, int* discarded = nullptr);

  const std::vector<std::string>& addresses() const { return addresses_; }

 private:
  ShardClient* Client(const std::string& address);
  static Status VerifyPlacement(const std::vector<std::vector<PieceRecord>>& per_server);

  std::vector<std::string> addresses_;
  ConnectionOptions connection_;
  std::chrono::seconds timeout_{30};
  std::mutex mu_;  // guards clients_ (commits and discards run on different threads)
  std::map<std::string, std::unique_ptr<ShardClient>> clients_;
};

}  // namespace mw
