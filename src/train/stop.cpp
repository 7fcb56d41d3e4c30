// The stop flag that SIGINT sets (and request_stop, for tests and embedding programs), and the
// handler's installation for the duration of a run.
#include "train/stop.h"

#include <atomic>

#include "sadanet/train/trainer.h"

namespace sadanet::train {
namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_sigint(int) {
  // Only async-signal-safe calls here. A second Ctrl-C gets the default action (termination):
  // the user can always kill a run whose current step takes long.
  if (g_stop.load()) {
    ::signal(SIGINT, SIG_DFL);
    ::raise(SIGINT);
    return;
  }
  g_stop.store(true);
}

}  // namespace

void request_stop() { g_stop.store(true); }
bool stop_requested() { return g_stop.load(); }

namespace internal {

void clear_stop() { g_stop.store(false); }

SigintGuard::SigintGuard(bool install) : installed_(install) {
  if (!installed_) return;
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // blocking reads in the loader's workers resume instead of failing
  ::sigaction(SIGINT, &sa, &old_);
}

SigintGuard::~SigintGuard() {
  if (installed_) ::sigaction(SIGINT, &old_, nullptr);
}

}  // namespace internal
}  // namespace sadanet::train
