// bench/api_load: many concurrent clients against one coordinator (started here with a
// shard server and no workers, so submitted jobs stay queued and the API itself is what is
// measured). Each client thread runs a mix of Submit, List (a page of 50), Get and Watch
// (first update); per operation: throughput, p50 / p99 latency, errors (must be 0), and the
// p50 as a ratio to the same server's grpc.health.v1 Check, the floor of a call here.
//
//   build/bench/api_load [--clients 32] [--seconds 20]
#include <grpcpp/client_context.h>

#include <unistd.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "cli/job_client.h"
#include "cli/local_cluster.h"
#include "common/process_group.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace {

namespace v1 = millionway::v1;

struct Samples {
  std::vector<double> seconds;
  int errors = 0;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
  int clients = 32, seconds = 20;
  CLI::App app{"JobService under concurrent load"};
  app.add_option("--clients", clients, "concurrent client threads, one channel each");
  app.add_option("--seconds", seconds, "how long to run");
  CLI11_PARSE(app, argc, argv);

  mw::LocalClusterOptions options;
  options.dir =
      (std::filesystem::temp_directory_path() / ("mw_api_load_" + std::to_string(getpid())))
          .string();
  options.bin_dir = mw::HelperPath("../bin");
  options.workers = 0;
  options.shard_servers = 1;
  std::unique_ptr<mw::LocalCluster> cluster;
  const mw::Status started = mw::LocalCluster::Start(options, &cluster);
  if (!started.ok()) {
    std::fprintf(stderr, "api_load: %s\n", started.ToString().c_str());
    return 2;
  }
  const std::string spec = R"({"train_subset": 1000, "epochs": 1, "top_k": 10})";
  std::mutex mutex;
  std::map<std::string, Samples> results;
  std::atomic<bool> stop{false};
  const auto record = [&](const std::string& op, double s, bool ok) {
    std::lock_guard<std::mutex> lock(mutex);
    auto& r = results[op];
    if (ok) {
      r.seconds.push_back(s);
    } else {
      ++r.errors;
    }
  };
  const auto timed = [&](const std::string& op, const std::function<bool()>& call) {
    const auto begin = std::chrono::steady_clock::now();
    const bool ok = call();
    record(op, std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count(), ok);
  };
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      const mw::ConnectionOptions connection = cluster->UserConnection();
      std::unique_ptr<mw::JobClient> client;
      if (!mw::JobClient::Connect(connection, &client).ok()) return;
      std::shared_ptr<grpc::Channel> channel;
      mw::OpenChannel(connection, &channel);
      auto health = grpc::health::v1::Health::NewStub(channel);
      std::string last_id;
      for (int i = 0; !stop; ++i) {
        timed("health check", [&] {
          grpc::ClientContext context;
          grpc::health::v1::HealthCheckRequest request;
          grpc::health::v1::HealthCheckResponse response;
          return health->Check(&context, request, &response).ok();
        });
        timed("submit", [&] {
          v1::Job job;
          const bool ok = client->Submit("load-" + std::to_string(c), spec, 1, 0, &job).ok();
          last_id = job.id();
          return ok;
        });
        timed("get", [&] {
          v1::Job job;
          return client->Get(last_id, &job).ok();
        });
        if (i % 4 == 0) {
          timed("list (50)", [&] {
            v1::ListJobsResponse page;
            return client->List(v1::JOB_STATE_UNSPECIFIED, 50, "", &page).ok() &&
                   page.jobs_size() > 0;
          });
        }
        timed("watch (first update)", [&] {
          grpc::ClientContext context;
          v1::WatchJobRequest request;
          request.set_id(last_id);
          auto stub = v1::JobService::NewStub(channel);
          auto reader = stub->Watch(&context, request);
          v1::Job job;
          const bool ok = reader->Read(&job) && job.id() == last_id;
          context.TryCancel();
          reader->Finish();
          return ok;
        });
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  cluster->Stop();
  std::filesystem::remove_all(options.dir);

  const double floor = Percentile(results["health check"].seconds, 0.5);
  std::printf("api_load: %d clients, %d s, one coordinator (SQLite WAL, synchronous=FULL)\n",
              clients, seconds);
  std::printf(
      "| operation | calls | calls/s | p50 ms | p99 ms | p50 / health check p50 | errors |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  int errors = 0;
  for (const auto& [op, r] : results) {
    errors += r.errors;
    const double p50 = Percentile(r.seconds, 0.5);
    std::printf("| %s | %zu | %.0f | %.2f | %.2f | %.1f | %d |\n", op.c_str(), r.seconds.size(),
                static_cast<double>(r.seconds.size()) / seconds, 1e3 * p50,
                1e3 * Percentile(r.seconds, 0.99), floor > 0 ? p50 / floor : 0, r.errors);
  }
  return errors == 0 ? 0 : 1;
}
