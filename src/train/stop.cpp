// The stop flag that SIGINT, SIGTERM and SIGHUP set (and request_stop, for tests and embedding
// programs), and the handlers' installation for the duration of a run.
#include "train/stop.h"

#include <atomic>

#include "sadanet/train/trainer.h"

namespace sadanet::train {
namespace {

constexpr int kSignals[3] = {SIGINT, SIGTERM, SIGHUP};

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};

extern "C" void on_stop_signal(int sig) {
  // Only async-signal-safe calls here. A second signal gets its default action (termination):
  // the user (or the batch system's escalation) can always end a run whose step takes long.
  if (g_stop.load()) {
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    return;
  }
  g_signal.store(sig);
  g_stop.store(true);
}

}  // namespace

void request_stop() { g_stop.store(true); }
bool stop_requested() { return g_stop.load(); }

namespace internal {

void clear_stop() {
  g_stop.store(false);
  g_signal.store(0);
}

int stop_signal() { return g_signal.load(); }

StopSignalGuard::StopSignalGuard(bool install) : installed_(install) {
  if (!installed_) return;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // blocking reads in the loader's workers resume instead of failing
  for (int i = 0; i < 3; ++i) {
    ::sigaction(kSignals[i], nullptr, &old_[i]);
    // An ignored signal stays ignored: `nohup sadanet train ...` must survive the closed terminal.
    if (old_[i].sa_handler != SIG_IGN) ::sigaction(kSignals[i], &sa, nullptr);
  }
}

StopSignalGuard::~StopSignalGuard() {
  if (installed_)
    for (int i = 0; i < 3; ++i) ::sigaction(kSignals[i], &old_[i], nullptr);
}

}  // namespace internal
}  // namespace sadanet::train
