#include "io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "sadanet/error.h"

namespace sadanet::io {

namespace {
// The pid keeps concurrent processes apart, the counter concurrent writers in one process.
std::string temp_name(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  return path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

std::string parent_dir(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}
}  // namespace

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
  // O_EXCL | O_NOFOLLOW: a file or link planted under the temporary name is never written through.
  // A name taken by a leftover of a killed process with the same pid (pids repeat in
  // containers) is skipped for the next one.
  for (int attempt = 0; attempt < 64; ++attempt) {
    temp_ = temp_name(path_);
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd_ >= 0 || errno != EEXIST) break;
  }
  SADANET_CHECK(fd_ >= 0, "cannot create temporary file '", temp_, "': ", std::strerror(errno));
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_.c_str());
}

void AtomicFileWriter::fail(const std::string& what) {
  std::string msg = detail::concat(what, ": ", std::strerror(errno), "; '", path_, "' is unchanged");
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  ::unlink(temp_.c_str());
  throw Error(msg);
}

void AtomicFileWriter::write(const void* data, size_t n) {
  SADANET_CHECK(fd_ >= 0 && !committed_, "write to '", temp_, "' after commit or failure");
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail("write to '" + temp_ + "' failed");
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void AtomicFileWriter::commit() {
  SADANET_CHECK(fd_ >= 0 && !committed_, "commit of '", temp_, "' after commit or failure");
  // fsync before rename: otherwise a crash can leave the new name pointing at unwritten blocks.
  if (::fsync(fd_) != 0) fail("fsync of '" + temp_ + "' failed");
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("close of '" + temp_ + "' failed");
  if (::rename(temp_.c_str(), path_.c_str()) != 0) fail("cannot rename '" + temp_ + "' to '" + path_ + "'");
  committed_ = true;
  // Make the rename itself durable; best effort, since the data is already safely in place.
  int dir = ::open(parent_dir(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

}  // namespace sadanet::io
