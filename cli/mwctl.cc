// mwctl: millionway's command line. It does not link LibTorch.
//
//   mwctl submit --spec F [--workers W] [--min-workers M] [--priority P] [--name N [--if-absent]]
//                [--watch]
//   mwctl get ID | list [--state S] | cancel ID | watch ID
//   mwctl scale ID --workers W [--min-workers M]
//   mwctl export ID --output backbone.pt --shard-server HOST:PORT
//   mwctl local --spec F [--workers W] [--shard-servers S] [--dir D] [--no-restart]
//   mwctl train --spec F [--workers W]     (the job on bare local ranks, no services)
//   mwctl dataset pack --from DIR | --fashion-mnist train|test --out DIR | check LOCATION
//   mwctl plan --spec F --workers W [--instances N] [--shard-servers S] [--keep-checkpoints K]
//
// Connection flags (--coordinator, --token-file, --tls-ca, --tls-cert, --tls-key) have
// MW_* environment variables.
#include <CLI/CLI.hpp>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "cli/capacity_plan.h"
#include "cli/dataset_command.h"
#include "cli/job_client.h"
#include "cli/local_cluster.h"
#include "cli/progress.h"
#include "common/durable_file.h"
#include "common/process_group.h"
#include "shard_server/shard_client.h"
#include "worker/training/job_spec.h"

namespace mw {
namespace {

namespace v1 = millionway::v1;

int Fail(const Status& status) {
  std::fprintf(stderr, "mwctl: %s\n", status.ToString().c_str());
  return status.code() == Status::Code::kInvalidArgument ? 2 : 1;
}

// Reads and validates a spec file locally, so a bad field is named with the file before any
// call is made.
// The spec as JSON, checked here so a bad one is refused with its file and line.
Status ReadSpec(const std::string& path, std::string* json) {
  MW_RETURN_IF_ERROR(ReadJobSpecFile(path, json));
  JobSpec spec;
  return ParseJobSpec(*json, path, &spec);
}

// A failed call says which service it could not reach or was refused by, at which address, and
// the flag and variable that set it.
Status Reaching(const Status& status, const std::string& service, const std::string& address,
                const char* flag, const char* env) {
  const Status::Code code = status.code();
  if (code == Status::Code::kUnavailable || code == Status::Code::kDeadlineExceeded) {
    return status.Annotate("cannot reach the " + service + " at " + address + " (set with " + flag +
                           " or " + env + ")");
  }
  if (code == Status::Code::kUnauthenticated || code == Status::Code::kPermissionDenied) {
    return status.Annotate("the " + service + " at " + address +
                           " refused this client's credentials (--token-file or MW_TOKEN_FILE; "
                           "--tls-* or MW_TLS_*)");
  }
  return status;
}

Status ViaCoordinator(const Status& status, const std::string& address) {
  return Reaching(status, "coordinator", address, "--coordinator", "MW_COORDINATOR");
}

int WatchToEnd(JobClient& client, const std::string& id, const std::string& coordinator) {
  v1::Job last;
  const Status s = client.Watch(id, [&](const v1::Job& job) {
    std::printf("%s\n", ProgressLine(job).c_str());
    std::fflush(stdout);
    last = job;
  });
  if (!s.ok()) return Fail(ViaCoordinator(s, coordinator));
  std::printf("%s\n", Summary(last).c_str());
  return last.state() == v1::COMPLETED ? 0 : 1;
}

int TrainOnRanks(const std::string& spec_path, int workers, int timeout_minutes) {
  JobSpec spec;
  const Status valid = LoadJobSpec(spec_path, &spec);
  if (!valid.ok()) return Fail(valid);
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const int threads = std::max(1, static_cast<int>(cores) / workers);
  const auto exits =
      RunRanks(HelperPath("mw_train_rank"), {"--spec", spec_path}, workers,
               {{"MW_THREADS", std::to_string(threads)}}, std::chrono::minutes(timeout_minutes));
  if (AllSucceeded(exits)) return 0;
  for (size_t r = 0; r < exits.size(); ++r) {
    if (exits[r].timed_out) {
      std::fprintf(stderr, "mwctl: rank %zu stopped after %d minutes\n", r, timeout_minutes);
    } else if (!exits[r].exited || exits[r].code != 0) {
      std::fprintf(stderr, "mwctl: rank %zu failed (status %d)\n", r, exits[r].code);
    }
  }
  return 1;
}

}  // namespace
}  // namespace mw

int main(int argc, char** argv) {
  using namespace mw;
  CLI::App app{"mwctl: millionway's command line"};
  app.require_subcommand(1);
  ConnectionOptions connection;
  ClientFlags client_flags;
  app.add_option("--coordinator", connection.address, "coordinator host:port")
      ->envname("MW_COORDINATOR");
  AddClientFlags(app, &connection, &client_flags);

  std::string spec_path, id, name, output, shard_server, state, dir;
  int workers = 2, min_workers = 0, shard_servers = 2, priority = 0, timeout_minutes = 120;
  bool watch = false, if_absent = false;
  CLI::App* submit = app.add_subcommand("submit", "submit a job");
  submit->add_option("--spec", spec_path, "job spec (JSON or YAML)")->required();
  submit->add_option("--workers", workers, "W, the gang size")->check(CLI::Range(1, 4096));
  submit->add_option("--min-workers", min_workers, "elastic: run on as few as M when short")
      ->check(CLI::Range(1, 4096));
  submit->add_option("--priority", priority, "higher runs first");
  CLI::Option* name_option = submit->add_option("--name", name, "a name to show");
  submit
      ->add_flag("--if-absent", if_absent,
                 "submit only if no job of this --name exists; else take that one (safe to "
                 "repeat)")
      ->needs(name_option);
  submit->add_flag("--watch", watch, "watch the job to its end");
  CLI::App* get = app.add_subcommand("get", "show a job");
  get->add_option("id", id)->required();
  CLI::App* list = app.add_subcommand("list", "list jobs, newest first");
  list->add_option("--state", state, "QUEUED, RUNNING, COMPLETED, FAILED or CANCELLED");
  CLI::App* cancel = app.add_subcommand("cancel", "cancel a job");
  cancel->add_option("id", id)->required();
  CLI::App* scale = app.add_subcommand("scale", "resize a job's gang at its next checkpoint");
  scale->add_option("id", id)->required();
  scale->add_option("--workers", workers, "W")->required()->check(CLI::Range(1, 4096));
  scale->add_option("--min-workers", min_workers, "elastic: the least W")
      ->check(CLI::Range(1, 4096));
  CLI::App* watch_cmd = app.add_subcommand("watch", "follow a job to its end");
  watch_cmd->add_option("id", id)->required();
  CLI::App* export_cmd = app.add_subcommand("export", "fetch a job's backbone (state dict)");
  export_cmd->add_option("id", id)->required();
  export_cmd->add_option("--output", output, "file to write")->required();
  export_cmd->add_option("--shard-server", shard_server, "shard server 0's address")
      ->envname("MW_SHARD_SERVER")
      ->required();
  CLI::App* local = app.add_subcommand("local", "the whole cluster on this machine, one job");
  local->add_option("--spec", spec_path, "job spec (JSON or YAML)")->required();
  local->add_option("--workers", workers, "W")->check(CLI::Range(1, 64));
  local->add_option("--shard-servers", shard_servers, "S")->check(CLI::Range(1, 64));
  local->add_option("--dir", dir, "data and logs (default: a new temporary directory)");
  bool no_restart = false;
  local
      ->add_flag("--no-restart", no_restart,
                 "leave a process that exits down (by default it is restarted, as a pod is)")
      ->envname("MW_NO_RESTART");
  CLI::App* train = app.add_subcommand("train", "run a job on bare local ranks, no services");
  train->add_option("--spec", spec_path, "job spec (JSON or YAML)")->required();
  train->add_option("--workers", workers, "ranks (processes)")
      ->envname("MW_WORKERS")
      ->check(CLI::Range(1, 64));
  train->add_option("--timeout-minutes", timeout_minutes, "stop the job after this long");
  CapacityPlanOptions plan_options;
  CLI::App* plan = app.add_subcommand(
      "plan", "what a job needs: classifier memory per worker, disk per shard server");
  plan->add_option("--spec", spec_path, "job spec (JSON or YAML)")->required();
  plan->add_option("--workers", plan_options.workers, "W")->check(CLI::Range(1, 4096));
  plan->add_option("--instances", plan_options.instances,
                   "training images (default: from the spec, when it says)")
      ->check(CLI::Range(int64_t{1}, (int64_t{1} << 31) - 1));
  plan->add_option("--shard-servers", plan_options.shard_servers, "S")->check(CLI::Range(1, 1024));
  plan->add_option("--keep-checkpoints", plan_options.keep_checkpoints,
                   "the coordinator's --keep-checkpoints")
      ->check(CLI::Range(1, 100));
  DatasetCommand dataset;
  AddDatasetCommands(app, &dataset);
  CLI11_PARSE(app, argc, argv);

  if (dataset.pack->parsed() || dataset.check->parsed()) return RunDatasetCommand(dataset);
  if (train->parsed()) return TrainOnRanks(spec_path, workers, timeout_minutes);
  if (plan->parsed()) {
    JobSpec spec;
    std::string text;
    Status s = LoadJobSpec(spec_path, &spec);
    if (s.ok()) s = CapacityPlan(spec, plan_options, &text);
    if (!s.ok()) return Fail(s);
    std::printf("%s", text.c_str());
    return 0;
  }
  if (const Status s = LoadToken(client_flags, &connection); !s.ok()) return Fail(s);

  std::unique_ptr<LocalCluster> cluster;
  std::string cluster_dir;
  if (local->parsed()) {
    std::string text;
    if (const Status s = ReadSpec(spec_path, &text); !s.ok()) return Fail(s);
    LocalClusterOptions options;
    options.dir =
        dir.empty()
            ? (std::filesystem::temp_directory_path() / ("mwctl-local-" + std::to_string(getpid())))
                  .string()
            : dir;
    cluster_dir = options.dir;
    options.workers = workers;
    options.shard_servers = shard_servers;
    options.restart_exited = !no_restart;
    // The connection's certificate serves the whole cluster: mutual TLS everywhere.
    options.tls_ca = connection.tls_ca;
    options.tls_cert = connection.tls_cert;
    options.tls_key = connection.tls_key;
    options.token_file = client_flags.token_file;
    options.threads_per_worker =
        std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / workers);
    if (const Status s = LocalCluster::Start(options, &cluster); !s.ok()) return Fail(s);
    std::printf("local cluster: coordinator %s, %d shard servers, %d workers; logs in %s\n",
                cluster->coordinator_address().c_str(), shard_servers, workers,
                options.dir.c_str());
    std::fflush(stdout);
    connection = cluster->UserConnection();
  }
  // Ctrl-C or SIGTERM: a local cluster is shut down in order, which ends any watch.
  boost::asio::io_context io;
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& error, int) {
    if (error) return;
    std::fprintf(stderr, "mwctl: interrupted, shutting down\n");
    if (cluster) cluster->Stop();
    std::_Exit(130);
  });
  std::thread signal_thread([&] { io.run(); });
  const auto finish = [&](int code) {
    io.stop();
    signal_thread.join();
    if (cluster) {
      cluster->Stop();
      // A directory mwctl made for itself goes once the job succeeded; else its logs stay.
      if (dir.empty() && code == 0) std::filesystem::remove_all(cluster_dir);
    }
    return code;
  };

  std::unique_ptr<JobClient> client;
  if (const Status s = JobClient::Connect(connection, &client); !s.ok()) return finish(Fail(s));
  v1::Job job;
  if (submit->parsed() || local->parsed()) {
    std::string text;
    if (const Status s = ReadSpec(spec_path, &text); !s.ok()) return finish(Fail(s));
    bool created = true;
    if (const Status s =
            client->Submit(name.empty() ? spec_path : name, text, static_cast<uint32_t>(workers),
                           priority, &job, static_cast<uint32_t>(min_workers), if_absent, &created);
        !s.ok()) {
      return finish(Fail(ViaCoordinator(s, connection.address)));
    }
    if (created) {
      std::printf("submitted %s\n", job.id().c_str());
    } else {
      std::printf("%s is named %s already: nothing submitted\n%s\n", job.id().c_str(), name.c_str(),
                  ProgressLine(job).c_str());
    }
    std::fflush(stdout);
    if (!watch && !local->parsed()) return finish(0);
    return finish(WatchToEnd(*client, job.id(), connection.address));
  }
  if (get->parsed() || cancel->parsed() || scale->parsed()) {
    const Status s = get->parsed()      ? client->Get(id, &job)
                     : cancel->parsed() ? client->Cancel(id, &job)
                                        : client->Scale(id, static_cast<uint32_t>(workers),
                                                        static_cast<uint32_t>(min_workers), &job);
    if (!s.ok()) return finish(Fail(ViaCoordinator(s, connection.address)));
    std::printf("%s\n%s\n", ProgressLine(job).c_str(), Summary(job).c_str());
    return finish(0);
  }
  if (watch_cmd->parsed()) return finish(WatchToEnd(*client, id, connection.address));
  if (list->parsed()) {
    v1::JobState filter = v1::JOB_STATE_UNSPECIFIED;
    if (!state.empty() && !v1::JobState_Parse(state, &filter)) {
      return finish(Fail(Status::InvalidArgument("--state: '" + state + "' is not a job state")));
    }
    v1::ListJobsResponse page;
    if (const Status s = client->List(filter, 100, "", &page); !s.ok()) {
      return finish(Fail(ViaCoordinator(s, connection.address)));
    }
    for (const auto& j : page.jobs()) std::printf("%s\n", ProgressLine(j).c_str());
    return finish(0);
  }
  if (export_cmd->parsed()) {
    if (const Status s = client->Get(id, &job); !s.ok()) {
      return finish(Fail(ViaCoordinator(s, connection.address)));
    }
    if (job.last_checkpoint() == 0) {
      return finish(Fail(Status::FailedPrecondition(id + " has no committed checkpoint yet")));
    }
    ConnectionOptions shard = connection;
    shard.address = shard_server;
    std::shared_ptr<grpc::Channel> channel;
    if (const Status s = OpenChannel(shard, &channel); !s.ok()) return finish(Fail(s));
    ShardClient shards(channel);
    std::string bytes;
    if (const Status s = shards.ReadBlob(id, job.last_checkpoint(), "backbone.pt", &bytes);
        !s.ok()) {
      return finish(
          Fail(Reaching(s, "shard server", shard_server, "--shard-server", "MW_SHARD_SERVER")));
    }
    if (const Status s = WriteFileAtomically(output, bytes); !s.ok()) return finish(Fail(s));
    std::printf("wrote %s (%zu bytes, checkpoint %llu of %s)\n", output.c_str(), bytes.size(),
                static_cast<unsigned long long>(job.last_checkpoint()), id.c_str());
    return finish(0);
  }
  return finish(0);
}
