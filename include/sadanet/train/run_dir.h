// A run folder's guard rails: created private (mode 0700 by default), locked for the whole run so
// that two processes never write one folder, cleaned of the temporaries a killed process left,
// and checked for planted symbolic links under the names sadanet writes.
#pragma once
#include <ostream>
#include <string>
#include <vector>

namespace sadanet::train {

// Creates `dir` and its parents. A folder created here gets `mode` (parents get the usual 0777
// minus umask); an existing one is left as it is. Throws sadanet::Error naming the folder.
void create_run_dir(const std::string& dir, unsigned mode = 0700);

// An exclusive advisory lock (flock) on DIR/.sadanet.lock, held until destruction. The file
// holds the holder's pid so that a second process can name it.
class RunDirLock {
 public:
  RunDirLock() = default;
  // Throws sadanet::Error "<who>: '<dir>' is in use by another sadanet process (pid N) ..." when
  // another process holds it; `dir` must exist.
  RunDirLock(const std::string& dir, const std::string& who);
  ~RunDirLock();
  RunDirLock(RunDirLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  RunDirLock& operator=(RunDirLock&& o) noexcept;
  RunDirLock(const RunDirLock&) = delete;
  RunDirLock& operator=(const RunDirLock&) = delete;
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// The files sadanet writes in a run folder (checkpoints, models, logs, evaluation results).
const std::vector<std::string>& run_dir_files();

// Refuses (sadanet::Error) a run folder where one of run_dir_files() is a symbolic link.
void check_run_dir_links(const std::string& dir);

// Removes "<name>.tmp.<pid>[.<n>]" files of run_dir_files() that a killed process left (only
// call with the lock held: a live writer's temporaries look the same). Returns what it removed.
std::vector<std::string> remove_orphan_temporaries(const std::string& dir);

}  // namespace sadanet::train
