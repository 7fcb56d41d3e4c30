// SIGINT -> stop flag (internal to the trainer; request_stop/stop_requested are in trainer.h).
#pragma once
#include <csignal>

namespace sadanet::train::internal {

void clear_stop();

// Installs the SIGINT handler for its lifetime (when `install`), restoring the previous one.
class SigintGuard {
 public:
  explicit SigintGuard(bool install);
  ~SigintGuard();
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;

 private:
  bool installed_;
  struct sigaction old_ {};
};

}  // namespace sadanet::train::internal
