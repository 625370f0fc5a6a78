// CheckpointUpload: a rank's checkpoint written to the shard servers on a thread of its own,
// while the gang trains on. Training stops only for the snapshot (TakeSnapshot); the write,
// gigabytes at ImageNet scale, goes on behind the next steps, and the coordinator commits
// the checkpoint once every rank's write has ended. One at a time: Start waits for the write
// before it, so a rank never holds more than one snapshot. Destroying the upload cancels a
// write in progress (between pieces) and waits for it.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "worker/checkpoint/trainer_checkpoint.h"

namespace mw {

class CheckpointUpload {
 public:
  // Runs on the upload's thread when the write ends: its outcome, the pieces written, its
  // wall time.
  using Done = std::function<void(const Status&, const std::vector<WrittenPiece>&, double)>;

  CheckpointUpload() = default;
  CheckpointUpload(const CheckpointUpload&) = delete;
  CheckpointUpload& operator=(const CheckpointUpload&) = delete;
  ~CheckpointUpload();

  void Start(CheckpointSnapshot snapshot, std::vector<ShardClient*> servers, std::string job_id,
             uint64_t checkpoint, uint32_t attempt, Done done);
  // Returns once no write is in progress.
  void Wait();
  // After Wait: the last snapshot written, for TakeSnapshot to fill again (empty at first).
  CheckpointSnapshot Reuse();

 private:
  std::thread thread_;
  std::atomic<bool> cancelled_{false};
  CheckpointSnapshot written_;  // the thread's snapshot, kept once written
};

}  // namespace mw
