// The checkpoint's cost to training at one rank's share, measured on that share (run by
// bench/checkpoint/run.py, which starts the shard servers and measures the disk beside it).
//
//   checkpoint_bench --rows N --shard-servers a,b [--steps 20] [--local-batch 32]
//
// A gang of one (MW_STORE_PORT) trains on a synthetic set of N instances (N classifier rows:
// one rank's share of a larger job, e.g. 640,000 = 1.28M over 2 ranks), Gaussian prior, no
// smoothing. Prints one JSON line:
//   step_s              median step time, nothing else running;
//   first_snapshot_s    the training time the first checkpoint takes (TakeSnapshot into
//                       fresh memory);
//   snapshot_s          the same for the next ones (into the last snapshot's buffers), median
//                       of 3;
//   write_s, bytes      writing the snapshot to the shard servers (as the upload thread does);
//   step_during_write_s median step time while that write goes on behind (the throughput lost
//                       to the stream sharing the cores);
//   restore_s           reading it back into the trainer after a commit (LoadCheckpoint).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <grpcpp/create_channel.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <sstream>
#include <thread>

#include "worker/checkpoint/trainer_checkpoint.h"
#include "worker/comm/gloo_communicator.h"
#include "worker/data/synthetic_dataset.h"

namespace mw {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

Status Run(const std::map<std::string, std::string>& flags) {
  const auto get = [&](const char* name, const char* fallback) {
    const auto it = flags.find(name);
    return it == flags.end() ? std::string(fallback) : it->second;
  };
  const int64_t rows = std::stoll(get("--rows", "640000"));
  const int steps = std::stoi(get("--steps", "20"));
  at::set_num_threads(std::stoi(get("--threads", "2")));
  GangOptions gang;
  MW_RETURN_IF_ERROR(GangOptionsFromEnvironment(&gang));
  std::unique_ptr<Communicator> comm;
  MW_RETURN_IF_ERROR(GlooCommunicator::Create(gang, &comm));
  std::vector<std::unique_ptr<ShardClient>> clients;
  std::vector<ShardClient*> servers;
  std::stringstream list(get("--shard-servers", ""));
  for (std::string address; std::getline(list, address, ',');) {
    clients.push_back(std::make_unique<ShardClient>(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials())));
    servers.push_back(clients.back().get());
  }
  if (servers.empty()) return Status::InvalidArgument("--shard-servers: none given");

  SyntheticSpec spec;
  spec.size = rows;
  spec.image_size = 32;
  const SyntheticDataset data(spec);
  TrainerConfig config;
  config.init = ClassifierInit::kGaussian;
  config.classifier.smoothing = 0;
  config.local_batch = std::stoll(get("--local-batch", "32"));
  std::unique_ptr<Trainer> trainer;
  MW_RETURN_IF_ERROR(Trainer::Create(config, comm.get(), &data, &trainer));
  MW_RETURN_IF_ERROR(trainer->InitializeClassifier());

  std::vector<double> step_times;
  int64_t step = 0;
  const auto train = [&](int n, std::vector<double>* times) -> Status {
    for (int i = 0; i < n; ++i, ++step) {
      const auto start = Clock::now();
      double loss = 0;
      MW_RETURN_IF_ERROR(trainer->TrainSteps(0, step, step + 1, &loss));
      times->push_back(Since(start));
    }
    return Status::Ok();
  };
  MW_RETURN_IF_ERROR(train(2, &step_times));  // warm-up
  step_times.clear();
  MW_RETURN_IF_ERROR(train(steps, &step_times));

  std::vector<double> snapshots;
  CheckpointSnapshot snapshot;
  for (int i = 0; i < 4; ++i) {
    const auto start = Clock::now();
    MW_RETURN_IF_ERROR(TakeSnapshot(*trainer, 0, rows, /*mid_epoch=*/false, &snapshot));
    snapshots.push_back(Since(start));
  }
  // The write behind training, as CheckpointUpload does it.
  std::vector<WrittenPiece> written;
  Status write_status;
  double write_s = 0;
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    const auto start = Clock::now();
    write_status = WriteSnapshot(snapshot, servers, "bench", 1, 1, &written);
    write_s = Since(start);
    writing = false;
  });
  std::vector<double> during;
  while (writing) MW_RETURN_IF_ERROR(train(1, &during));
  writer.join();
  MW_RETURN_IF_ERROR(write_status);

  // Committed as the coordinator would (every piece is this rank's), then read back.
  std::vector<std::vector<PieceRecord>> per_server(servers.size());
  for (const auto& w : written) per_server[static_cast<size_t>(w.server)].push_back(w.piece);
  for (size_t s = 0; s < servers.size(); ++s) {
    MW_RETURN_IF_ERROR(servers[s]->Commit("bench", 1, 1, per_server[s], 0, 0));
  }
  const auto restore = Clock::now();
  MW_RETURN_IF_ERROR(LoadCheckpoint(*trainer, rows, servers, "bench", 1, /*mid_epoch=*/false));
  const double restore_s = Since(restore);

  std::printf(
      "{\"rows\": %lld, \"bytes\": %llu, \"step_s\": %.4f, \"first_snapshot_s\": %.4f, "
      "\"snapshot_s\": %.4f, "
      "\"write_s\": %.3f, \"steps_during_write\": %zu, \"step_during_write_s\": %.4f, "
      "\"restore_s\": %.3f}\n",
      static_cast<long long>(rows), static_cast<unsigned long long>(snapshot.bytes()),
      Median(step_times), snapshots[0],
      Median(std::vector<double>(snapshots.begin() + 1, snapshots.end())), write_s, during.size(),
      Median(during), restore_s);
  return Status::Ok();
}

}  // namespace
}  // namespace mw

int main(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  for (int i = 1; i + 1 < argc; i += 2) flags[argv[i]] = argv[i + 1];
  try {
    const mw::Status status = mw::Run(flags);
    if (status.ok()) return 0;
    std::fprintf(stderr, "checkpoint_bench: %s\n", status.ToString().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "checkpoint_bench: %s\n", e.what());
  }
  return 1;
}
