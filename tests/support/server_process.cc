#include "tests/support/server_process.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace mw {

Status ServerProcess::Start(const std::string& program, const std::vector<std::string>& args,
                            const std::map<std::string, std::string>& env) {
  static std::atomic<int> counter{0};
  const std::string stem =
      (std::filesystem::temp_directory_path() /
       ("mw_server_" + std::to_string(getpid()) + "_" + std::to_string(counter++)))
          .string();
  port_file_ = stem + ".port";
  log_file_ = stem + ".log";
  std::filesystem::remove(port_file_);
  std::vector<std::string> all = args;
  all.insert(all.end(), {"--listen", "127.0.0.1:0", "--port-file", port_file_});
  MW_RETURN_IF_ERROR(ChildProcess::Start(program, all, env, log_file_, &process_));
  for (int i = 0; i < 3000; ++i) {
    std::ifstream in(port_file_);
    if (in >> port_ && port_ > 0) return Status::Ok();
    if (!process_.running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Status::Unavailable(program + " did not start serving:\n" + Log());
}

ServerProcess::~ServerProcess() {
  Kill();
  if (!log_file_.empty()) std::filesystem::remove(log_file_);
}

void ServerProcess::Kill() {
  process_.Signal(SIGKILL);
  process_.Wait(std::chrono::seconds(10));
  std::filesystem::remove(port_file_);
}

int ServerProcess::Terminate() {
  process_.Signal(SIGTERM);
  process_.Wait(std::chrono::seconds(60));
  std::filesystem::remove(port_file_);
  return process_.exit_code();
}

std::shared_ptr<grpc::Channel> ServerProcess::Channel() const {
  return grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
}

std::string ServerProcess::Log() const {
  std::ifstream in(log_file_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace mw
