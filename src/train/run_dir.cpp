#include "sadanet/train/run_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "sadanet/error.h"
#include "sadanet/io/files.h"

namespace sadanet::train {

namespace fs = std::filesystem;

void create_run_dir(const std::string& dir, unsigned mode) {
  SADANET_CHECK(!dir.empty(), "expected an output folder, got an empty path");
  fs::path p(dir);
  std::error_code ec;
  if (p.has_parent_path() && !p.parent_path().empty()) fs::create_directories(p.parent_path(), ec);
  if (::mkdir(dir.c_str(), static_cast<mode_t>(mode)) != 0 && errno != EEXIST)
    throw Error(detail::concat("cannot create the output folder '", dir, "': ", std::strerror(errno)));
  struct stat st;
  SADANET_CHECK(::lstat(dir.c_str(), &st) == 0, "cannot create the output folder '", dir, "': ", std::strerror(errno));
  SADANET_CHECK(!S_ISLNK(st.st_mode), "the output folder '", dir,
                "' is a symbolic link; give the real folder's path (sadanet does not follow links to run folders)");
  SADANET_CHECK(S_ISDIR(st.st_mode), "the output folder '", dir, "' exists and is not a folder");
}

RunDirLock::RunDirLock(const std::string& dir, const std::string& who) {
  const std::string path = dir + "/.sadanet.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    const int err = errno;
    if (err == ELOOP) io::refuse_symlink(path, who + ": the lock file");
    throw Error(detail::concat(who, ": cannot open the lock file '", path, "': ", std::strerror(err)));
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[32] = {};
    const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
    std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK)
      throw Error(detail::concat(who, ": '", dir, "' is in use by another sadanet process",
                                 pid.empty() ? "" : " (pid " + pid + ")",
                                 "; wait for it to end, or choose another output folder"));
    throw Error(detail::concat(who, ": cannot lock '", path, "': ", std::strerror(err)));
  }
  const std::string me = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, me.data(), me.size(), 0);  // only informative
}

RunDirLock::~RunDirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

RunDirLock& RunDirLock::operator=(RunDirLock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

const std::vector<std::string>& run_dir_files() {
  static const std::vector<std::string> files = {
      "config.json",         "metrics.jsonl",         "val.jsonl",         "ckpt-latest.safetensors",
      "ckpt-prev.safetensors", "ckpt-next.safetensors", "last.safetensors",  "final.safetensors",
      "test_metrics.json",   "test_confusion.png",    "results.md",        "results.csv",
      "runs.csv",            "model.json",            "model_card.md",
      "log.txt"};
  return files;
}

void check_run_dir_links(const std::string& dir) {
  for (const auto& f : run_dir_files()) io::refuse_symlink(dir + "/" + f, "'" + dir + "' holds a file");
}

std::vector<std::string> remove_orphan_temporaries(const std::string& dir) {
  std::vector<std::string> removed;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return removed;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    for (const auto& f : run_dir_files()) {
      // <file>.tmp.<digits>[.<digits>]: AtomicFileWriter's and the checkpoint rotation's names.
      const std::string prefix = f + ".tmp.";
      if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
      const std::string rest = name.substr(prefix.size());
      if (rest.find_first_not_of("0123456789.") != std::string::npos || rest.front() == '.') continue;
      const std::string path = dir + "/" + name;
      struct stat st;
      if (::lstat(path.c_str(), &st) == 0 && (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) && ::unlink(path.c_str()) == 0)
        removed.push_back(name);
    }
  }
  ::closedir(d);
  return removed;
}

}  // namespace sadanet::train
