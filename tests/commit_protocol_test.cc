// The checkpoint commit protocol, with the Coordinator in process, driven by hand as its workers
// would drive it, against real shard servers: the test writes each checkpoint's pieces itself
// (rows [0, N) of weights and momentum over the servers, the two blobs on server 0), reports
// them, and then looks at what every server holds. Checkpoints are written while the gang
// trains on, and each of the other cases is a way the protocol once lost a job or blocked one:
//  - keep_last = 1 with a commit that fails on the second server;
//  - a shard commit that completes after the coordinator gave up on it;
//  - reported pieces that do not cover the checkpoint;
//  - a checkpoint read back after the shard servers were scaled;
//  - store writes that fail when a gang stops, when a job completes, and when a checkpoint is
//    recorded;
//  - a job awaiting reconciliation at the head of the queue;
//  - a checkpoint number a server already holds (ALREADY_EXISTS): not the gang's failure.
#include <grpcpp/support/status_code_enum.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "common/fault_points.h"
#include "common/metrics/metrics_server.h"
#include "common/process_group.h"
#include "common/row_partition.h"
#include "coordinator/coordinator.h"
#include "shard_server/checkpoint_coverage.h"
#include "shard_server/piece_proto.h"
#include "shard_server/shard_client.h"
#include "tests/support/server_process.h"

namespace mw {
namespace {

namespace fs = std::filesystem;
namespace v1 = millionway::v1;

constexpr char kSpec[] = R"({"train_subset": 100, "epochs": 2, "local_batch": 10})";
constexpr uint64_t kRows = 100;
constexpr uint64_t kRowBytes = 64;

// Checkpoint c's bytes of `tensor`, row r: (c * 31 + r + tensor's length) & 0xff.
std::string Rows(uint64_t c, const std::string& tensor, uint64_t begin, uint64_t end) {
  std::string out;
  for (uint64_t r = begin; r < end; ++r) {
    out.append(kRowBytes, static_cast<char>((c * 31 + r + tensor.size()) & 0xff));
  }
  return out;
}

class CommitProtocol : public ::testing::Test {
 protected:
  void SetUp() override {
    ArmFaultPoints("");
    dir_ = fs::temp_directory_path() / ("mw_commit_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    ASSERT_TRUE(MetricsServer::Start({}, "commit_protocol_test", &metrics_server_).ok());
    metrics_ = std::make_unique<CoordinatorMetrics>(*metrics_server_);
  }
  void TearDown() override {
    coordinator_.reset();
    servers_.clear();
    ArmFaultPoints("");
    fs::remove_all(dir_);
  }
  void StartServers(int count, const std::map<int, std::string>& fault_points = {}) {
    for (int s = 0; s < count; ++s) {
      auto server = std::make_unique<ServerProcess>();
      std::map<std::string, std::string> env;
      if (fault_points.count(s)) env["MW_FAULT_POINTS"] = fault_points.at(s);
      ASSERT_TRUE(server
                      ->Start(HelperPath("../bin/mw_shard_server"),
                              {"--data-dir", (dir_ / ("shards" + std::to_string(s))).string(),
                               "--allow-unauthenticated"},
                              env)
                      .ok())
          << server->Log();
      servers_.push_back(std::move(server));
    }
  }
  // A coordinator over the first `count` servers.
  void Open(size_t count, uint32_t keep_last = 2,
            std::chrono::seconds commit_timeout = std::chrono::seconds(30)) {
    coordinator_.reset();
    CoordinatorOptions options;
    options.database = (dir_ / "coordinator.db").string();
    for (size_t s = 0; s < count; ++s) options.shard_servers.push_back(servers_[s]->address());
    options.keep_last_checkpoints = keep_last;
    options.commit_timeout = commit_timeout;
    options.heartbeat_timeout = std::chrono::minutes(10);  // the test heartbeats for no one
    options.metrics = metrics_.get();
    ASSERT_TRUE(Coordinator::Create(options, &coordinator_).ok());
  }
  std::string Register(const std::string& name) {
    std::string id;
    EXPECT_TRUE(coordinator_->Register(name, name + ":29500", &id).ok());
    return id;
  }
  std::string Submit(uint32_t world_size = 1) {
    JobRecord job;
    bool created = false;
    EXPECT_TRUE(coordinator_->Submit("", kSpec, world_size, 0, 0, false, &job, &created).ok());
    return job.id;
  }
  v1::Task Next(const std::string& worker,
                std::chrono::milliseconds wait = std::chrono::seconds(20)) {
    v1::Task task;
    const Status s = coordinator_->NextTask(worker, wait, &task);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return task;
  }
  // A CHECKPOINT task is reported as a worker does: its snapshot taken (ReportSnapshot), then
  // its write ended (ReportWrite; `ok`, `pieces`, `code` are the write's).
  void Report(const std::string& worker, const v1::Task& task, bool ok = true,
              const std::vector<v1::PieceWritten>& pieces = {},
              grpc::StatusCode code = grpc::StatusCode::OK) {
    if (task.kind() == v1::TASK_CHECKPOINT) {
      ReportSnapshot(worker, task);
      ReportWrite(worker, task, ok, pieces, code);
      return;
    }
    v1::TaskReport report = Outcome(worker, task, ok, code);
    if (task.kind() == v1::TASK_START) report.set_steps_per_epoch(1);
    ASSERT_TRUE(coordinator_->Report(report).ok());
  }
  void ReportSnapshot(const std::string& worker, const v1::Task& task) {
    v1::TaskReport report = Outcome(worker, task, true, grpc::StatusCode::OK);
    report.set_upload_pending(true);
    ASSERT_TRUE(coordinator_->Report(report).ok());
  }
  void ReportWrite(const std::string& worker, const v1::Task& task, bool ok,
                   const std::vector<v1::PieceWritten>& pieces,
                   grpc::StatusCode code = grpc::StatusCode::OK) {
    v1::TaskReport report = Outcome(worker, task, ok, code);
    report.set_uploaded(true);
    for (const auto& p : pieces) *report.add_pieces() = p;
    ASSERT_TRUE(coordinator_->Report(report).ok());
  }
  static v1::TaskReport Outcome(const std::string& worker, const v1::Task& task, bool ok,
                                grpc::StatusCode code) {
    v1::TaskReport report;
    report.set_worker_id(worker);
    report.set_task_id(task.task_id());
    report.set_ok(ok);
    if (!ok) report.set_error("injected by the test");
    report.set_error_code(code);
    return report;
  }
  // Runs the job's tasks on `worker` until the next CHECKPOINT task, which it returns.
  v1::Task RunToCheckpoint(const std::string& worker) {
    for (int i = 0; i < 10; ++i) {
      const v1::Task task = Next(worker);
      if (task.kind() == v1::TASK_CHECKPOINT || task.task_id().empty()) return task;
      Report(worker, task);
    }
    ADD_FAILURE() << "no checkpoint task";
    return v1::Task();
  }
  ShardClient Shard(size_t s) { return ShardClient(servers_[s]->Channel()); }
  // A rank's pieces of `task`'s checkpoint, as the task's servers partition the rows; written
  // to every server but those in `skipped` (reported all the same), and less the rows
  // [drop_begin, drop_end) of the momentum.
  std::vector<v1::PieceWritten> WriteState(const v1::Task& task, std::set<size_t> skipped = {},
                                           uint64_t drop_begin = 0, uint64_t drop_end = 0) {
    std::vector<v1::PieceWritten> written;
    const auto servers = static_cast<size_t>(task.shard_servers_size());
    const RowPartition partition(static_cast<int64_t>(kRows), static_cast<int>(servers));
    const auto write = [&](size_t s, const PieceRecord& header, const std::string& data) {
      if (!skipped.count(s)) {
        ShardClient client(servers_[s]->Channel());
        const Status w = client.WritePiece(task.job_id(), task.checkpoint(), task.attempt(), header,
                                           data.data(), data.size(), nullptr);
        EXPECT_TRUE(w.ok()) << w.ToString();
      }
      PieceRecord piece = header;
      piece.bytes = data.size();
      piece.checksum = Checksum(data.data(), data.size());
      v1::PieceWritten out;
      out.set_server(static_cast<uint32_t>(s));
      FillInfo(piece, out.mutable_piece());
      written.push_back(out);
    };
    for (const char* tensor : {kWeightTensor, kMomentumTensor}) {
      for (size_t s = 0; s < servers; ++s) {
        uint64_t begin = static_cast<uint64_t>(partition.begin(static_cast<int>(s)));
        uint64_t end = static_cast<uint64_t>(partition.end(static_cast<int>(s)));
        if (tensor == std::string(kMomentumTensor) && drop_end > drop_begin) {
          if (begin >= drop_begin && end <= drop_end) continue;
          if (end > drop_begin && end <= drop_end) end = drop_begin;
        }
        PieceRecord header;
        header.tensor = tensor;
        header.rows = true;
        header.row_begin = begin;
        header.row_end = end;
        header.row_bytes = kRowBytes;
        header.total_rows = kRows;
        write(s, header, Rows(task.checkpoint(), tensor, begin, end));
      }
    }
    for (const char* blob : {kModelBlob, kBackboneBlob}) {
      PieceRecord header;
      header.tensor = blob;
      write(0, header, std::string(blob) + " of " + std::to_string(task.checkpoint()));
    }
    return written;
  }
  std::vector<uint64_t> Listed(size_t s, const std::string& job) {
    std::vector<uint64_t> listed;
    EXPECT_TRUE(Shard(s).List(job, &listed).ok());
    return listed;
  }
  JobRecord Get(const std::string& id) {
    JobRecord job;
    EXPECT_TRUE(coordinator_->Get(id, &job).ok());
    return job;
  }
  // The job as the SQLite file holds it, read on a connection of the test's own.
  JobRecord Stored(const std::string& id) {
    std::unique_ptr<JobStore> store;
    JobRecord job;
    EXPECT_TRUE(JobStore::Open((dir_ / "coordinator.db").string(), &store).ok());
    EXPECT_TRUE(store->Get(id, &job).ok());
    return job;
  }
  // The stored state once it is `want`, or as it is after 5 s.
  JobState StoredStateWithin5s(const std::string& id, JobState want) {
    JobState state = Stored(id).state;
    for (int i = 0; i < 100 && state != want; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      state = Stored(id).state;
    }
    return state;
  }
  // Stops the gang of `worker` as a worker does when told to, and returns its next task.
  v1::Task StopAndNext(const std::string& worker) {
    const v1::Task stop = Next(worker);
    EXPECT_EQ(stop.kind(), v1::TASK_STOP);
    Report(worker, stop);
    return Next(worker);
  }

  fs::path dir_;
  std::vector<std::unique_ptr<ServerProcess>> servers_;
  std::unique_ptr<MetricsServer> metrics_server_;
  std::unique_ptr<CoordinatorMetrics> metrics_;
  std::unique_ptr<Coordinator> coordinator_;
};

// keep_last = 1: checkpoint 2 commits on server 0 and fails on server 1 (its pieces never
// arrived). Server 0 must still hold checkpoint 1, the one the job restarts from; it once
// pruned it inside the commit of 2, which reconciliation then discarded.
TEST_F(CommitProtocol, KeepingOneCheckpointSurvivesACommitThatFailsOnTheSecondServer) {
  StartServers(2);
  Open(2, /*keep_last=*/1);
  const std::string a = Register("a");
  const std::string id = Submit();
  const v1::Task first = RunToCheckpoint(a);
  ASSERT_EQ(first.checkpoint(), 1u);
  Report(a, first, true, WriteState(first));
  ASSERT_EQ(Get(id).last_checkpoint, 1u);
  const v1::Task second = RunToCheckpoint(a);
  ASSERT_EQ(second.checkpoint(), 2u);
  Report(a, second, true, WriteState(second, /*skipped=*/{1}));
  EXPECT_NE(Get(id).failure.find("checkpoint commit failed"), std::string::npos) << Get(id).failure;
  // The gang restarts from checkpoint 1 once checkpoint 2 is discarded from server 0.
  const v1::Task restart = StopAndNext(a);
  ASSERT_EQ(restart.kind(), v1::TASK_START);
  EXPECT_EQ(restart.checkpoint(), 1u);
  for (size_t s = 0; s < 2; ++s) {
    EXPECT_EQ(Listed(s, id), std::vector<uint64_t>{1}) << "server " << s;
  }
  std::string rows;
  ASSERT_TRUE(Shard(0).ReadRows(id, 1, kWeightTensor, 0, 50, &rows).ok());
  EXPECT_EQ(rows, Rows(1, kWeightTensor, 0, 50));
}

// Checkpoints are written while the gang trains on: the next task comes once every rank has
// its snapshot, the checkpoint counts once the writes are in and committed, a gang stopped
// before that restarts from the checkpoint before (in that one's epoch), and the job does not
// complete before its last checkpoint is committed.
TEST_F(CommitProtocol, TrainingGoesOnWhileACheckpointIsWritten) {
  StartServers(1);
  Open(1);
  const std::string a = Register("a");
  const std::string id = Submit();
  v1::Task checkpoint = RunToCheckpoint(a);
  ReportSnapshot(a, checkpoint);
  const v1::Task refresh = Next(a);
  EXPECT_EQ(refresh.kind(), v1::TASK_TOPK_REFRESH);
  EXPECT_EQ(refresh.epoch(), 1u);
  EXPECT_EQ(Get(id).last_checkpoint, 0u);
  // What a coordinator restarted now would resume: epoch 0, from no checkpoint.
  EXPECT_EQ(Stored(id).epoch, 0u);
  EXPECT_EQ(Stored(id).last_checkpoint, 0u);
  Report(a, refresh, /*ok=*/false);  // the gang stops before the write is reported
  v1::Task task = StopAndNext(a);
  ASSERT_EQ(task.kind(), v1::TASK_START);
  EXPECT_EQ(task.checkpoint(), 0u);
  EXPECT_EQ(task.epoch(), 0u);
  // Both epochs again, the last checkpoint's write reported only after the evaluation.
  Report(a, task);
  checkpoint = RunToCheckpoint(a);
  Report(a, checkpoint, true, WriteState(checkpoint));
  ASSERT_EQ(Get(id).last_checkpoint, 1u);
  checkpoint = RunToCheckpoint(a);
  ReportSnapshot(a, checkpoint);
  const v1::Task evaluate = Next(a);
  ASSERT_EQ(evaluate.kind(), v1::TASK_EVALUATE);
  Report(a, evaluate);
  EXPECT_EQ(Get(id).state, JobState::kRunning);  // waits for checkpoint 2
  ReportWrite(a, checkpoint, true, WriteState(checkpoint));
  const JobRecord done = Get(id);
  EXPECT_EQ(done.state, JobState::kCompleted) << done.failure;
  EXPECT_EQ(done.last_checkpoint, 2u);
}

// An epoch shorter than a checkpoint's write: the next epoch's checkpoint waits for the one
// before to commit, then goes out numbered after it (not under the number still pending when
// it was planned). A report sent twice while it waits changes nothing.
TEST_F(CommitProtocol, ACheckpointPlannedWhileTheOneBeforeIsPendingTakesTheNextNumber) {
  StartServers(1);
  Open(1);
  const std::string a = Register("a");
  const std::string id = Submit();
  const v1::Task first = RunToCheckpoint(a);
  ReportSnapshot(a, first);
  const v1::Task refresh = Next(a);
  ASSERT_EQ(refresh.kind(), v1::TASK_TOPK_REFRESH);
  Report(a, refresh);
  const v1::Task train = Next(a);
  ASSERT_EQ(train.kind(), v1::TASK_TRAIN);
  Report(a, train);
  Report(a, train);  // again: its answer was lost
  v1::Task none;
  EXPECT_EQ(coordinator_->NextTask(a, std::chrono::milliseconds(300), &none).code(),
            Status::Code::kDeadlineExceeded)
      << "the next checkpoint went out before the one before committed";
  ReportWrite(a, first, true, WriteState(first));
  EXPECT_EQ(Get(id).last_checkpoint, 1u);
  const v1::Task second = Next(a);
  ASSERT_EQ(second.kind(), v1::TASK_CHECKPOINT);
  EXPECT_EQ(second.checkpoint(), 2u);
  EXPECT_EQ(coordinator_->NextTask(a, std::chrono::milliseconds(300), &none).code(),
            Status::Code::kDeadlineExceeded)
      << "a task went out twice";
}

// Server 0 takes 6 s over its commit, the coordinator gives up after 3 s. Once the server
// finishes, the commit must not have landed: it is discarded or refused, and the next gang
// writes and commits checkpoint 1 afresh (it used to find it committed: ALREADY_EXISTS on
// every piece, until the job failed).
TEST_F(CommitProtocol, ACommitThatCompletesAfterTheCoordinatorGaveUpDoesNotLand) {
  StartServers(2, {{0, "shard.commit.before_manifest=sleep6000:1"}});
  Open(2, 2, std::chrono::seconds(3));
  const std::string a = Register("a");
  const std::string id = Submit();
  const v1::Task first = RunToCheckpoint(a);
  Report(a, first, true, WriteState(first));
  EXPECT_EQ(Get(id).last_checkpoint, 0u);
  const v1::Task restart = StopAndNext(a);
  ASSERT_EQ(restart.kind(), v1::TASK_START);
  EXPECT_EQ(restart.checkpoint(), 0u);
  std::this_thread::sleep_for(std::chrono::seconds(4));  // the slow commit is over by now
  EXPECT_TRUE(Listed(0, id).empty());
  Report(a, restart);
  const v1::Task again = RunToCheckpoint(a);
  ASSERT_EQ(again.checkpoint(), 1u);
  EXPECT_EQ(again.attempt(), 2u);
  Report(a, again, true, WriteState(again));
  const JobRecord job = Get(id);
  EXPECT_EQ(job.last_checkpoint, 1u) << job.failure;
  EXPECT_EQ(job.failures, 0u);
  // A piece of the first gang, late, is refused: it is fenced off.
  PieceRecord header;
  header.tensor = kModelBlob;
  EXPECT_EQ(Shard(0).WritePiece(id, 2, first.attempt(), header, "x", 1, nullptr).code(),
            Status::Code::kFailedPrecondition);
}

// Pieces that miss rows of the momentum, or a blob, are not committed: nothing is listed and
// the job records no checkpoint.
TEST_F(CommitProtocol, ACheckpointThatDoesNotCoverTheStateIsNotCommitted) {
  StartServers(2);
  Open(2);
  const std::string a = Register("a");
  const std::string id = Submit();
  const v1::Task first = RunToCheckpoint(a);
  Report(a, first, true, WriteState(first, {}, 30, 100));
  const JobRecord job = Get(id);
  EXPECT_EQ(job.last_checkpoint, 0u);
  EXPECT_NE(job.failure.find("checkpoint incomplete: classifier.momentum rows [30, 100)"),
            std::string::npos)
      << job.failure;
  for (size_t s = 0; s < 2; ++s) EXPECT_TRUE(Listed(s, id).empty()) << "server " << s;
}

// Checkpoint 1 is written over two servers; the coordinator restarts with three. The job's
// next gang is told where checkpoint 1 lies, and writes checkpoint 2 over all three.
TEST_F(CommitProtocol, ACheckpointLoadsFromTheServersItWasWrittenTo) {
  StartServers(3);
  Open(2);
  std::string a = Register("a");
  const std::string id = Submit();
  const v1::Task first = RunToCheckpoint(a);
  ASSERT_EQ(first.shard_servers_size(), 2);
  Report(a, first, true, WriteState(first));
  ASSERT_EQ(Get(id).last_checkpoint, 1u);
  Open(3);
  a = Register("a");
  const v1::Task restart = Next(a);
  ASSERT_EQ(restart.kind(), v1::TASK_START);
  EXPECT_EQ(restart.checkpoint(), 1u);
  ASSERT_EQ(restart.shard_servers_size(), 3);
  ASSERT_EQ(restart.checkpoint_shard_servers_size(), 2);
  EXPECT_EQ(restart.checkpoint_shard_servers(0), servers_[0]->address());
  EXPECT_EQ(restart.checkpoint_shard_servers(1), servers_[1]->address());
  // Rows of server 1's range under the old layout are on server 1, not where three servers
  // would put them.
  std::string rows;
  ASSERT_TRUE(Shard(1).ReadRows(id, 1, kWeightTensor, 50, 100, &rows).ok());
  EXPECT_EQ(rows, Rows(1, kWeightTensor, 50, 100));
  Report(a, restart);
  const v1::Task second = RunToCheckpoint(a);
  ASSERT_EQ(second.shard_servers_size(), 3);
  Report(a, second, true, WriteState(second));
  const JobRecord job = Get(id);
  EXPECT_EQ(job.last_checkpoint, 2u) << job.failure;
  EXPECT_EQ(job.checkpoint_shard_servers.size(), 3u);
  EXPECT_EQ(Listed(2, id), std::vector<uint64_t>{2});
}

// The store fails the write of a gang's stop, then that of the job's completion: what Get says
// is what happened, and the store catches up.
TEST_F(CommitProtocol, MemoryAndStoreStayInStepWhenStoreWritesFail) {
  StartServers(1);
  Open(1);
  ArmFaultPoints("coordinator.stop.write=error:1,coordinator.complete.write=error:1");
  const std::string a = Register("a");
  const std::string id = Submit();
  const v1::Task start = Next(a);
  Report(a, start, /*ok=*/false);
  EXPECT_EQ(Get(id).state, JobState::kQueued);  // the store still says RUNNING
  // The control loop writes it again (the gang is not restarted before its STOP is reported).
  EXPECT_EQ(StoredStateWithin5s(id, JobState::kQueued), JobState::kQueued);
  v1::Task task = StopAndNext(a);
  ASSERT_EQ(task.kind(), v1::TASK_START);
  EXPECT_EQ(task.attempt(), 2u);
  EXPECT_EQ(Stored(id).state, JobState::kRunning);
  EXPECT_EQ(Stored(id).attempts, 2u);
  for (int epoch = 0; epoch < 2; ++epoch) {
    Report(a, task);
    task = RunToCheckpoint(a);
    Report(a, task, true, WriteState(task));
    task = Next(a);
  }
  ASSERT_EQ(task.kind(), v1::TASK_EVALUATE);
  Report(a, task);
  EXPECT_EQ(Get(id).state, JobState::kCompleted);
  EXPECT_EQ(StoredStateWithin5s(id, JobState::kCompleted), JobState::kCompleted);
  EXPECT_EQ(Stored(id).last_checkpoint, 2u);
}

// Every shard server committed checkpoint 1, but SQLite did not take the record: the job does
// not have checkpoint 1 (memory says so too), its copies are discarded, and it restarts
// from the prior.
TEST_F(CommitProtocol, ACheckpointWhoseRecordFailsIsDiscarded) {
  StartServers(2);
  Open(2);
  ArmFaultPoints("coordinator.checkpoint.record=error:1");
  const std::string a = Register("a");
  const std::string id = Submit();
  const v1::Task first = RunToCheckpoint(a);
  Report(a, first, true, WriteState(first));
  const JobRecord job = Get(id);
  EXPECT_EQ(job.last_checkpoint, 0u);
  EXPECT_EQ(job.epoch, 0u);
  EXPECT_NE(job.failure.find("cannot record checkpoint 1"), std::string::npos) << job.failure;
  const v1::Task restart = StopAndNext(a);
  ASSERT_EQ(restart.kind(), v1::TASK_START);
  EXPECT_EQ(restart.checkpoint(), 0u);
  for (size_t s = 0; s < 2; ++s) EXPECT_TRUE(Listed(s, id).empty()) << "server " << s;
  EXPECT_EQ(Stored(id).last_checkpoint, 0u);
}

// Job X's commit fails and cannot be reconciled (a shard server is down); job Y, queued behind
// it, starts on the free worker meanwhile, and X waits, saying why.
TEST_F(CommitProtocol, AJobAwaitingReconciliationHoldsNoOneBack) {
  StartServers(2);
  Open(2);
  const std::string a = Register("a");
  const std::string x = Submit();
  const std::string y = Submit();
  const v1::Task checkpoint = RunToCheckpoint(a);
  ASSERT_EQ(checkpoint.job_id(), x);
  servers_[1]->Kill();
  Report(a, checkpoint, true, WriteState(checkpoint, {1}));
  const v1::Task next = StopAndNext(a);
  EXPECT_EQ(next.kind(), v1::TASK_START);
  EXPECT_EQ(next.job_id(), y);
  EXPECT_EQ(Get(x).state, JobState::kQueued);
  std::string failure;
  for (int i = 0; i < 100 && failure.find("reconciled") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    failure = Get(x).failure;
  }
  EXPECT_NE(failure.find("waiting for its checkpoints to be reconciled"), std::string::npos)
      << failure;
}

// A checkpoint task that fails with ALREADY_EXISTS (a server holds that checkpoint number) is
// reconciled, not counted, unless it keeps coming back: the third in a row counts.
TEST_F(CommitProtocol, ACheckpointNumberAlreadyTakenIsNotTheGangsFailure) {
  StartServers(1);
  Open(1);
  const std::string a = Register("a");
  const std::string id = Submit();
  v1::Task task = Next(a);
  for (uint32_t conflict = 1; conflict <= 3; ++conflict) {
    ASSERT_EQ(task.kind(), v1::TASK_START) << "conflict " << conflict;
    Report(a, task);
    const v1::Task checkpoint = RunToCheckpoint(a);
    Report(a, checkpoint, false, {}, grpc::StatusCode::ALREADY_EXISTS);
    EXPECT_EQ(Get(id).state, JobState::kQueued);
    EXPECT_EQ(Get(id).failures, conflict < 3 ? 0u : 1u) << "conflict " << conflict;
    task = StopAndNext(a);
  }
}

}  // namespace
}  // namespace mw
