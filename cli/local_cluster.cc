#include "cli/local_cluster.h"

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "common/durable_file.h"
#include "common/process_group.h"
#include "common/random_token.h"
#include "common/rpc/authorization.h"

namespace mw {

Status LocalCluster::StartServer(const std::string& program, std::vector<std::string> args,
                                 const std::string& name, const std::string& listen,
                                 ChildProcess* out, std::string* address) {
  const std::string port_file = options_.dir + "/" + name + ".port";
  std::filesystem::remove(port_file);
  args.insert(args.end(), {"--listen", listen, "--port-file", port_file});
  const auto metrics = MetricsArgs(name);
  args.insert(args.end(), metrics.begin(), metrics.end());
  MW_RETURN_IF_ERROR(ChildProcess::Start(Binary(program), args, Env(name),
                                         options_.dir + "/" + name + ".log", out));
  for (int i = 0; i < 3000; ++i) {
    int port = 0;
    if (std::ifstream(port_file) >> port && port > 0) {
      *address = "127.0.0.1:" + std::to_string(port);
      return Status::Ok();
    }
    if (!out->running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Status::Unavailable(name + " did not start; see " + options_.dir + "/" + name + ".log");
}

Status LocalCluster::Start(const LocalClusterOptions& options, std::unique_ptr<LocalCluster>* out) {
  auto cluster = std::unique_ptr<LocalCluster>(new LocalCluster());
  cluster->options_ = options;
  std::filesystem::create_directories(options.dir);
  MW_RETURN_IF_ERROR(cluster->MakeTokens());
  cluster->shards_.resize(static_cast<size_t>(options.shard_servers));
  cluster->shard_addresses_.resize(static_cast<size_t>(options.shard_servers));
  for (int s = 0; s < options.shard_servers; ++s) {
    MW_RETURN_IF_ERROR(cluster->StartShardServer(s, "127.0.0.1:0"));
  }
  MW_RETURN_IF_ERROR(cluster->StartServer("mw_coordinator", cluster->CoordinatorArgs(),
                                          "coordinator", "127.0.0.1:0", &cluster->coordinator_,
                                          &cluster->coordinator_address_));
  cluster->workers_.resize(static_cast<size_t>(options.workers));
  for (int w = 0; w < options.workers; ++w) MW_RETURN_IF_ERROR(cluster->StartWorker(w));
  if (options.restart_exited)
    cluster->supervisor_ = std::thread([c = cluster.get()] { c->Supervise(); });
  *out = std::move(cluster);
  return Status::Ok();
}

Status LocalCluster::StartWorker(int i) {
  const std::string name = "worker-" + std::to_string(i);
  std::vector<std::string> args = {"--coordinator",
                                   coordinator_address_,
                                   "--name",
                                   name,
                                   "--rendezvous",
                                   "127.0.0.1:" + std::to_string(FreeLoopbackPort()),
                                   "--threads",
                                   std::to_string(options_.threads_per_worker),
                                   "--collective-timeout-s",
                                   std::to_string(options_.collective_timeout_s),
                                   "--teardown-timeout-s",
                                   std::to_string(options_.collective_timeout_s),
                                   "--token-file",
                                   auth_dir() + "/worker.token"};
  if (!options_.tls_ca.empty()) {
    args.insert(args.end(), {"--tls-ca", options_.tls_ca, "--tls-cert", options_.tls_cert,
                             "--tls-key", options_.tls_key});
  }
  const auto metrics = MetricsArgs(name);
  args.insert(args.end(), metrics.begin(), metrics.end());
  return ChildProcess::Start(Binary("mw_worker"), args, Env(name),
                             options_.dir + "/" + name + ".log", &workers_[static_cast<size_t>(i)]);
}

Status LocalCluster::StartShardServer(int i, const std::string& listen) {
  const std::string name = "shard-server-" + std::to_string(i);
  std::vector<std::string> args = ServerTlsArgs();
  args.insert(args.end(), {"--data-dir", options_.dir + "/" + name});
  args.insert(args.end(), {"--auth-dir", auth_dir()});
  return StartServer("mw_shard_server", args, name, listen, &shards_[static_cast<size_t>(i)],
                     &shard_addresses_[static_cast<size_t>(i)]);
}

Status LocalCluster::RestartShardServer(int i, const std::string& fault_points) {
  shards_[static_cast<size_t>(i)].Wait(std::chrono::seconds(10));
  const std::string name = "shard-server-" + std::to_string(i);
  options_.fault_points.erase(name);
  if (!fault_points.empty()) options_.fault_points[name] = fault_points;
  const std::string listen = shard_addresses_[static_cast<size_t>(i)];
  return StartShardServer(i, listen);
}

std::map<std::string, std::string> LocalCluster::Env(const std::string& name) const {
  const auto armed = options_.fault_points.find(name);
  if (armed == options_.fault_points.end()) return {};
  return {{"MW_FAULT_POINTS", armed->second}};
}

std::vector<std::string> LocalCluster::MetricsArgs(const std::string& name) const {
  return {"--metrics-listen", "127.0.0.1:0", "--metrics-port-file",
          options_.dir + "/" + name + ".metrics.port"};
}

std::vector<std::string> LocalCluster::ServerTlsArgs() const {
  if (options_.tls_ca.empty()) return {};
  return {"--tls-cert",     options_.tls_cert, "--tls-key",
          options_.tls_key, "--tls-client-ca", options_.tls_ca};
}

Status LocalCluster::RestartWorker(int i) {
  worker(i).Wait(std::chrono::seconds(10));
  options_.fault_points.erase("worker-" + std::to_string(i));
  return StartWorker(i);
}

LocalCluster::~LocalCluster() { Stop(); }

Status LocalCluster::MakeTokens() {
  std::filesystem::create_directories(auth_dir());
  std::filesystem::permissions(auth_dir(), std::filesystem::perms::owner_all);
  for (const Role role : {Role::kUser, Role::kWorker, Role::kCoordinator}) {
    std::string token = RandomHex(32);
    if (role == Role::kUser && !options_.token_file.empty()) {
      MW_RETURN_IF_ERROR(ReadTokenFile(options_.token_file, &token));
    }
    const std::string path = auth_dir() + "/" + RoleName(role) + ".token";
    MW_RETURN_IF_ERROR(WriteFileAtomically(path, token + "\n"));
    if (role == Role::kUser) user_token_ = token;
    std::filesystem::permissions(
        path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  }
  return Status::Ok();
}

ConnectionOptions LocalCluster::UserConnection() const {
  ConnectionOptions connection;
  connection.address = coordinator_address_;
  connection.token = user_token_;
  connection.tls_ca = options_.tls_ca;
  connection.tls_cert = options_.tls_cert;
  connection.tls_key = options_.tls_key;
  return connection;
}

std::vector<std::string> LocalCluster::CoordinatorArgs() const {
  std::string shard_list;
  for (const auto& address : shard_addresses_) {
    shard_list += (shard_list.empty() ? "" : ",") + address;
  }
  std::vector<std::string> args = {"--database",
                                   options_.dir + "/coordinator.db",
                                   "--shard-servers",
                                   shard_list,
                                   "--heartbeat-timeout-ms",
                                   std::to_string(options_.heartbeat_timeout_ms),
                                   "--max-failures",
                                   std::to_string(options_.max_failures),
                                   "--task-timeout-s",
                                   std::to_string(options_.task_timeout_s),
                                   "--commit-timeout-s",
                                   std::to_string(options_.commit_timeout_s)};
  args.insert(args.end(), {"--auth-dir", auth_dir()});
  if (!options_.tls_ca.empty()) {
    const auto tls = ServerTlsArgs();
    args.insert(args.end(), tls.begin(), tls.end());
    args.insert(args.end(), {"--tls-ca", options_.tls_ca});  // towards the shard servers
  }
  return args;
}

Status LocalCluster::RestartCoordinator() {
  coordinator_.Wait(std::chrono::seconds(10));
  options_.fault_points.erase("coordinator");
  std::string address;
  return StartServer("mw_coordinator", CoordinatorArgs(), "coordinator", coordinator_address_,
                     &coordinator_, &address);
}

std::string LocalCluster::Binary(const std::string& name) const {
  return options_.bin_dir.empty() ? HelperPath(name) : options_.bin_dir + "/" + name;
}

void LocalCluster::Stop() {
  std::call_once(stopped_, [this] { StopOnce(); });
}

std::vector<LocalCluster::Named> LocalCluster::Processes() {
  std::vector<Named> out;
  for (int s = 0; s < static_cast<int>(shards_.size()); ++s) {
    out.push_back({"shard-server-" + std::to_string(s), &shards_[static_cast<size_t>(s)],
                   [this, s] { return RestartShardServer(s); }});
  }
  out.push_back({"coordinator", &coordinator_, [this] { return RestartCoordinator(); }});
  for (int w = 0; w < static_cast<int>(workers_.size()); ++w) {
    out.push_back({"worker-" + std::to_string(w), &workers_[static_cast<size_t>(w)],
                   [this, w] { return RestartWorker(w); }});
  }
  return out;
}

pid_t LocalCluster::ProcessId(const std::string& name) {
  std::lock_guard<std::mutex> lock(supervisor_mutex_);
  for (const Named& p : Processes()) {
    if (p.name == name) return p.process->pid();
  }
  return -1;
}

void LocalCluster::Supervise() {
  std::unique_lock<std::mutex> lock(supervisor_mutex_);
  const std::vector<Named> processes = Processes();
  // Every process started just now: a back-off measures from here.
  for (const Named& p : processes) backoff_[p.name] = Backoff{};
  while (!supervisor_wake_.wait_for(lock, std::chrono::milliseconds(200),
                                    [this] { return stopping_; })) {
    for (const Named& p : processes) {
      if (p.process->running()) continue;
      Backoff& b = backoff_[p.name];
      const auto now = std::chrono::steady_clock::now();
      if (b.exited <= b.started) {  // just seen to have exited
        b.exited = now;
        if (now - b.started >= std::chrono::minutes(1)) b.quick_exits = 0;
        b.delay = std::min(std::chrono::seconds(int64_t{1} << std::min(b.quick_exits, 6)),
                           std::chrono::seconds(60));
        ++b.quick_exits;
        std::fprintf(stderr, "mwctl local: %s exited (code %d); restarting it in %lld s\n",
                     p.name.c_str(), p.process->exit_code(),
                     static_cast<long long>(b.delay.count()));
        continue;
      }
      if (now - b.exited < b.delay) continue;
      b.started = now;
      if (const Status s = p.restart(); !s.ok()) {
        std::fprintf(stderr, "mwctl local: restarting %s: %s\n", p.name.c_str(),
                     s.ToString().c_str());
      }
    }
  }
}

void LocalCluster::StopOnce() {
  // The children go before the supervisor thread ends: PR_SET_PDEATHSIG is tied to the thread
  // that forked a child, so those it restarted would get SIGKILL when it exits, not the
  // SIGTERM (and checkpoint) below. The lock keeps it from restarting anything meanwhile.
  std::unique_lock<std::mutex> lock(supervisor_mutex_);
  stopping_ = true;
  const auto terminate = [](std::vector<ChildProcess*> group) {
    for (auto* p : group) p->Signal(SIGTERM);
    for (auto* p : group) {
      if (!p->Wait(std::chrono::seconds(30))) {
        p->Signal(SIGKILL);
        p->Wait(std::chrono::seconds(5));
      }
    }
  };
  std::vector<ChildProcess*> workers, shards;
  for (auto& w : workers_) workers.push_back(&w);
  for (auto& s : shards_) shards.push_back(&s);
  terminate(workers);
  terminate({&coordinator_});
  terminate(shards);
  lock.unlock();
  supervisor_wake_.notify_all();
  if (supervisor_.joinable()) supervisor_.join();
}

}  // namespace mw
