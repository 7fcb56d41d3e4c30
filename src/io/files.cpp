#include "sadanet/io/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "io/atomic_file.h"
#include "sadanet/error.h"

namespace sadanet::io {

void write_file_atomic(const std::string& path, std::string_view bytes) {
  AtomicFileWriter w(path);
  w.write(bytes.data(), bytes.size());
  w.commit();
}

void refuse_symlink(const std::string& path, const std::string& what) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
    throw Error(detail::concat(what, " '", path, "' is a symbolic link; sadanet does not follow links in a run ",
                               "folder (remove it, or choose another folder)"));
}

void append_line(const std::string& path, std::string_view line) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    if (err == ELOOP) refuse_symlink(path, "log file");
    throw Error(detail::concat("cannot open '", path, "' to append: ", std::strerror(err)));
  }
  struct stat st;
  const off_t before = ::fstat(fd, &st) == 0 ? st.st_size : -1;
  std::string buf(line);
  buf += '\n';
  // One write: O_APPEND makes it land at the end in one piece unless the disk fills up.
  ssize_t w;
  do w = ::write(fd, buf.data(), buf.size());
  while (w < 0 && errno == EINTR);
  const int err = errno;
  if (w != static_cast<ssize_t>(buf.size())) {
    if (w > 0 && before >= 0) (void)::ftruncate(fd, before);  // drop the torn part
    ::close(fd);
    throw Error(detail::concat("cannot append to '", path, "': ",
                               w < 0 ? std::strerror(err) : "short write (disk full?)", "; the file is unchanged"));
  }
  if (::close(fd) != 0)
    throw Error(detail::concat("cannot append to '", path, "': ", std::strerror(errno)));
}

}  // namespace sadanet::io
