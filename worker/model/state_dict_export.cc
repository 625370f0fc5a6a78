#include "worker/model/state_dict_export.h"

#include <fcntl.h>
#include <torch/nn/module.h>
#include <torch/serialize.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace mw {

namespace {

Status WriteFileAtomically(const std::string& path, const std::vector<char>& bytes) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return Status::Internal(tmp + ": " + std::strerror(errno));
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      const std::string err = std::strerror(errno);
      ::close(fd);
      return Status::Internal(tmp + ": " + err);
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) return Status::Internal(tmp + ": fsync failed");
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::Internal(path + ": rename failed: " + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace

Status ExportStateDict(const torch::nn::Module& module, const std::string& path) {
  c10::Dict<std::string, at::Tensor> state;
  for (const auto& p : module.named_parameters()) state.insert(p.key(), p.value().detach());
  for (const auto& b : module.named_buffers()) state.insert(b.key(), b.value().detach());
  return WriteFileAtomically(path, torch::pickle_save(state));
}

}  // namespace mw
