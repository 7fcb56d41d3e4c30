// SIGINT, SIGTERM and SIGHUP -> stop flag (internal to the trainer; request_stop/stop_requested
// are in trainer.h). A batch system's SIGTERM, a closed terminal's SIGHUP and Ctrl-C all end a
// run the same way: the current step finishes, a checkpoint is written, the run returns.
#pragma once
#include <csignal>

namespace sadanet::train::internal {

void clear_stop();
// The signal that asked to stop (SIGINT, SIGTERM, SIGHUP), 0 for request_stop() or none.
int stop_signal();

// Installs the handlers for its lifetime (when `install`), restoring the previous ones.
class StopSignalGuard {
 public:
  explicit StopSignalGuard(bool install);
  ~StopSignalGuard();
  StopSignalGuard(const StopSignalGuard&) = delete;
  StopSignalGuard& operator=(const StopSignalGuard&) = delete;

 private:
  bool installed_;
  struct sigaction old_[3] {};
};

}  // namespace sadanet::train::internal
