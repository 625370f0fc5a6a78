#include "common/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

namespace mw {

namespace {

Status Errno(const std::string& what, const std::string& path) {
  const int error = errno;
  const std::string message = path + ": " + what + ": " + std::strerror(error);
  if (error == ENOENT) return Status::NotFound(message);
  if (error == ENOSPC || error == EDQUOT) return Status::ResourceExhausted(message);
  return Status::Internal(message);
}

}  // namespace

Status WritableFile::Create(const std::string& path, WritableFile* out) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot create", path);
  *out = WritableFile();
  out->path_ = path;
  out->fd_ = fd;
  return Status::Ok();
}

WritableFile::WritableFile(WritableFile&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}

WritableFile& WritableFile::operator=(WritableFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

WritableFile::~WritableFile() {
  if (fd_ >= 0) ::close(fd_);
}

Status WritableFile::Append(const void* data, size_t bytes) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(fd_, p, bytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write failed", path_);
    }
    p += n;
    bytes -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status WritableFile::SyncAndClose() {
  if (::fsync(fd_) != 0) return Errno("fsync failed", path_);
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) return Errno("close failed", path_);
  return Status::Ok();
}

Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open directory", dir);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Errno("fsync of directory failed", dir);
  return Status::Ok();
}

Status WriteFileAtomically(const std::string& path, const std::string& contents) {
  const std::string temporary = path + ".tmp";
  WritableFile file;
  MW_RETURN_IF_ERROR(WritableFile::Create(temporary, &file));
  MW_RETURN_IF_ERROR(file.Append(contents.data(), contents.size()));
  MW_RETURN_IF_ERROR(file.SyncAndClose());
  if (::rename(temporary.c_str(), path.c_str()) != 0) return Errno("rename failed", temporary);
  return SyncDirectory(std::filesystem::path(path).parent_path().string());
}

Status ReadFileRange(const std::string& path, size_t offset, size_t length, std::string* out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path);
  out->resize(length);
  size_t done = 0;
  while (done < length) {
    const ssize_t n =
        ::pread(fd, out->data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      if (n == 0) {
        return Status::DataLoss(path + ": file ends at byte " + std::to_string(offset + done) +
                                ", expected " + std::to_string(offset + length));
      }
      return Errno("read failed", path);
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return Status::Ok();
}

Status ReadFile(const std::string& path, std::string* out) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  if (error) return Status::NotFound(path + ": " + error.message());
  return ReadFileRange(path, 0, static_cast<size_t>(size), out);
}

}  // namespace mw
