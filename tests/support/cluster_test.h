// ClusterTest: a fixture for tests of the whole service under failures: a LocalCluster on
// loopback (short heartbeat and collective timeouts, so failures are noticed in seconds), a
// user's client, polling for a job's state, and a checkpoint read back from every shard
// server.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "cli/job_client.h"
#include "cli/local_cluster.h"
#include "common/process_group.h"
#include "common/row_partition.h"
#include "shard_server/shard_client.h"

namespace mw {

// A Fashion-MNIST job of three short epochs.
inline constexpr char kThreeEpochSpec[] = R"({"train_subset": 600, "test_subset": 300,
  "epochs": 3, "local_batch": 50, "top_k": 10, "lr": 0.1, "classifier_lr": 1.0,
  "warmup_epochs": 0, "linear_probe": false})";

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.dir =
        (std::filesystem::temp_directory_path() / ("mw_failure_" + std::to_string(getpid())))
            .string();
    options_.bin_dir = HelperPath("../bin");
    options_.heartbeat_timeout_ms = 2000;
    options_.collective_timeout_s = 10;
  }
  void TearDown() override {
    if (HasFailure()) PrintLogTails();  // before the shutdown's own lines push it out
    if (cluster_) cluster_->Stop();
    std::filesystem::remove_all(options_.dir);
  }
  // What each process logged last, for a failure seen only in CI.
  void PrintLogTails() {
    for (const auto& entry : std::filesystem::directory_iterator(options_.dir)) {
      if (entry.path().extension() != ".log") continue;
      std::ifstream in(entry.path());
      std::deque<std::string> tail;
      for (std::string line; std::getline(in, line);) {
        tail.push_back(line);
        if (tail.size() > 40) tail.pop_front();
      }
      std::cerr << "--- last lines of " << entry.path().filename().string() << "\n";
      for (const auto& line : tail) std::cerr << line << "\n";
    }
  }
  // Polls Get (a watch stream would break with the coordinator) every `poll`, for up to 5
  // minutes, until `done` holds.
  millionway::v1::Job WaitFor(const std::string& id,
                              const std::function<bool(const millionway::v1::Job&)>& done,
                              std::chrono::milliseconds poll = std::chrono::milliseconds(100)) {
    millionway::v1::Job job;
    const auto end = std::chrono::steady_clock::now() + std::chrono::minutes(5);
    while (std::chrono::steady_clock::now() < end) {
      std::unique_ptr<JobClient> client;
      if (JobClient::Connect(cluster_->UserConnection(), &client).ok() &&
          client->Get(id, &job).ok() && done(job)) {
        return job;
      }
      std::this_thread::sleep_for(poll);
    }
    ADD_FAILURE() << "timed out waiting on " << id;
    return job;
  }
  std::unique_ptr<JobClient> Client() {
    std::unique_ptr<JobClient> client;
    EXPECT_TRUE(JobClient::Connect(cluster_->UserConnection(), &client).ok());
    return client;
  }
  std::string Submit(const char* spec = kThreeEpochSpec, uint32_t min_world_size = 0) {
    millionway::v1::Job job;
    EXPECT_TRUE(Client()->Submit("failures", spec, 2, 0, &job, min_world_size).ok());
    return job.id();
  }
  // Starts again, as Kubernetes would, every worker of the first `count` that has exited,
  // saying so: a worker whose gang teardown overran exits (code 3) to be restarted, and a
  // test that restarts only its own victims would otherwise wait for a gang that can never
  // form again.
  void RestartExitedWorkers(int count) {
    for (int i = 0; i < count; ++i) {
      if (!cluster_->worker(i).Wait(std::chrono::milliseconds(0))) continue;
      std::cerr << "worker-" << i << " had exited (code " << cluster_->worker(i).exit_code()
                << "): restarted\n";
      EXPECT_TRUE(cluster_->RestartWorker(i).ok());
    }
  }
  int WorkerIndex(const std::string& name) {
    return std::stoi(name.substr(std::string("worker-").size()));
  }
  static bool Finished(const millionway::v1::Job& j) {
    return j.state() == millionway::v1::COMPLETED || j.state() == millionway::v1::FAILED;
  }
  // What a resumed run must reproduce of a checkpoint, as stored: the classifier rows and
  // their momentum gathered from every server, and the backbone's state dict from server 0
  // (the "model" blob is a TorchScript archive whose bytes name modules by a per-process
  // counter, so equal models need not have equal bytes).
  std::map<std::string, std::string> ReadCheckpoint(const std::string& job, uint64_t checkpoint,
                                                    int64_t num_rows) {
    std::map<std::string, std::string> contents;
    const auto& addresses = cluster_->shard_addresses();
    const RowPartition ranges(num_rows, static_cast<int>(addresses.size()));
    for (size_t s = 0; s < addresses.size(); ++s) {
      ConnectionOptions connection = cluster_->UserConnection();
      connection.address = addresses[s];
      std::shared_ptr<grpc::Channel> channel;
      EXPECT_TRUE(OpenChannel(connection, &channel).ok());
      ShardClient client(channel);
      const int part = static_cast<int>(s);
      for (const char* tensor : {"classifier.weight", "classifier.momentum"}) {
        std::string rows;
        const Status read =
            client.ReadRows(job, checkpoint, tensor, static_cast<uint64_t>(ranges.begin(part)),
                            static_cast<uint64_t>(ranges.end(part)), &rows);
        EXPECT_TRUE(read.ok()) << read.ToString();
        contents[tensor] += rows;
      }
      if (s == 0) {
        EXPECT_TRUE(client.ReadBlob(job, checkpoint, "backbone.pt", &contents["backbone"]).ok());
      }
    }
    return contents;
  }

  LocalClusterOptions options_;
  std::unique_ptr<LocalCluster> cluster_;
};

}  // namespace mw
