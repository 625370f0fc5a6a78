#include "worker/checkpoint/checkpoint_upload.h"

#include <chrono>
#include <string>
#include <utility>

#include "common/log.h"

namespace mw {

CheckpointUpload::~CheckpointUpload() {
  cancelled_ = true;
  Wait();
}

void CheckpointUpload::Wait() {
  if (thread_.joinable()) thread_.join();
}

CheckpointSnapshot CheckpointUpload::Reuse() {
  Wait();
  return std::move(written_);
}

void CheckpointUpload::Start(CheckpointSnapshot snapshot, std::vector<ShardClient*> servers,
                             std::string job_id, uint64_t checkpoint, uint32_t attempt, Done done) {
  Wait();
  written_ = std::move(snapshot);
  thread_ = std::thread([this, servers = std::move(servers), job_id = std::move(job_id), checkpoint,
                         attempt, done = std::move(done)]() {
    const auto start = std::chrono::steady_clock::now();
    std::vector<WrittenPiece> written;
    Status status;
    try {
      status = WriteSnapshot(written_, servers, job_id, checkpoint, attempt, &written,
                             [this] { return cancelled_.load(); });
    } catch (const std::exception& e) {
      status = Status::Internal(std::string("checkpoint write threw: ") + e.what());
    }
    // A write cancelled by its job's teardown reports nothing: nobody waits for it. The log
    // says so, since the checkpoint it was is lost (a worker that leaves on SIGTERM before its
    // write ends, past --drain-timeout-s, cancels it).
    if (cancelled_) {
      Log(LogLevel::kWarning,
          "checkpoint " + std::to_string(checkpoint) +
              " not written: cancelled by its job's teardown",
          {{"job_id", job_id},
           {"rank", std::to_string(written_.rank)},
           {"bytes", std::to_string(written_.bytes())}});
      return;
    }
    done(status, written,
         std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  });
}

}  // namespace mw
