// The simulated kernel launch.
//
// A launch is checked against sm_90's limits first (as the CUDA runtime checks it), then its
// blocks are handed out to a few host threads. One host thread runs one block at a time, and a
// block's threads run there as fibers (Boost.Context's fcontext, no signal-mask system call per
// switch). A fiber runs until it exits or reaches a rendezvous (__syncthreads, a warp shuffle,
// __syncwarp, a ballot); then the next fiber runs. When every thread is exited or waiting, the
// scheduler resolves what can go on:
//   - a warp operation whose mask's lanes have all arrived at the same operation exchanges its
//     values and its lanes go on (a mask naming a lane that does not exist or has exited, lanes
//     that disagree on the operation or mask, or a read from a lane outside the mask: a fault);
//   - a barrier that every thread of the block waits at releases them all (threads waiting at
//     two different __syncthreads calls, or a barrier some threads can never reach because they
//     exited: a fault named "divergent __syncthreads");
//   - nothing can go on: deadlock, a fault.
// Between rendezvous points the fibers run in the order SADANET_CUDA_SIM_ORDER says (forward,
// reverse or random), so a missing barrier changes results. A thread that never waits costs a
// fiber start on a stack the previous thread has just left: threads of barrier-free kernels run
// back to back like plain calls.
//
// A fault stops the launch: no further block starts, the block's fibers are abandoned (device
// code holds nothing that needs destroying), and the launch returns the error CUDA would give,
// with the kernel, block, thread and reason in cudaGetErrorString's text.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <boost/context/detail/fcontext.hpp>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <mutex>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sim_internal.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define SADANET_SIM_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#define SADANET_SIM_TSAN 1
#endif

namespace bctx = boost::context::detail;

namespace cuda_sim {
namespace detail {

enum class Wait : uint8_t { fresh, runnable, barrier, warp, exited };
enum WarpKind : int { kIdx = 0, kUp = 1, kDown = 2, kXor = 3, kSyncWarp = 4, kBallot = 5 };
const char* warp_kind_name(int k) {
  static const char* names[] = {"__shfl_sync", "__shfl_up_sync", "__shfl_down_sync", "__shfl_xor_sync", "__syncwarp",
                                "__ballot_sync"};
  return k >= 0 && k <= 5 ? names[k] : "?";
}

// A fiber stack: mmap'ed, with a guard page below it so that an overflow faults at once.
struct Stack {
  void* base = nullptr;  // the guard page
  size_t size = 0;       // usable bytes above it
  void* bottom() const { return static_cast<char*>(base) + page(); }
  void* top() const { return static_cast<char*>(bottom()) + size; }
  bool dirty = false;  // abandoned mid-run: its ASan shadow may still mark live frames
  static size_t page() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }
};

#ifdef SADANET_SIM_ASAN
constexpr size_t kStackBytes = 1 << 20;  // ASan frames are much larger
#else
constexpr size_t kStackBytes = 256 << 10;
#endif

struct ThreadState {
  uint3 idx{};
  int linear = 0;
  Wait wait = Wait::fresh;
  bctx::fcontext_t ctx = nullptr;
  Stack* stack = nullptr;
  // The rendezvous it waits at.
  const char* file = nullptr;
  int line = 0;
  int kind = 0;
  unsigned mask = 0;
  uint64_t value = 0;
  int arg = 0;
  int width = 32;
  uint64_t result = 0;
#ifdef SADANET_SIM_ASAN
  void* fake_stack = nullptr;
#endif
#ifdef SADANET_SIM_TSAN
  void* tsan_fiber = nullptr;
#endif
};

struct BlockState {
  std::vector<ThreadState> threads;
  bctx::fcontext_t scheduler = nullptr;
  ThreadBody body = nullptr;
  void* closure = nullptr;
  bool fault = false;
  cudaError_t fault_code = cudaSuccess;
  std::string fault_text;
#ifdef SADANET_SIM_ASAN
  void* sched_fake_stack = nullptr;
  const void* sched_bottom = nullptr;
  size_t sched_size = 0;
#endif
#ifdef SADANET_SIM_TSAN
  void* tsan_scheduler = nullptr;
#endif
};

thread_local ThreadState* tl_thread = nullptr;
thread_local BlockState* tl_block = nullptr;
thread_local uint3 tl_block_idx{};
thread_local dim3 tl_block_dim, tl_grid_dim;
// This host thread's fiber stacks, kept across launches and unmapped when the thread ends.
struct StackPool {
  std::vector<Stack*> free;
  ~StackPool() {
    for (Stack* s : free) {
      munmap(s->base, s->size + Stack::page());
      delete s;
    }
  }
};
thread_local StackPool tl_stacks;

const uint3& thread_idx() {
  static const uint3 host{0, 0, 0};
  return tl_thread ? tl_thread->idx : host;
}

std::string where(const ThreadState& t) {
  return std::string("thread (") + std::to_string(t.idx.x) + "," + std::to_string(t.idx.y) + "," + std::to_string(t.idx.z) + ")";
}
std::string site(const char* file, int line) {
  std::string f = file ? file : "?";
  const auto slash = f.rfind('/');
  if (slash != std::string::npos) f = f.substr(slash + 1);
  return f + ":" + std::to_string(line);
}

void set_fault(BlockState& b, cudaError_t code, const std::string& text) {
  if (b.fault) return;
  b.fault = true;
  b.fault_code = code;
  b.fault_text = text;
}

// ---- stacks ----------------------------------------------------------------------------------------------------

Stack* take_stack() {
  if (!tl_stacks.free.empty()) {
    Stack* s = tl_stacks.free.back();
    tl_stacks.free.pop_back();
#ifdef SADANET_SIM_ASAN
    if (s->dirty) ASAN_UNPOISON_MEMORY_REGION(s->bottom(), s->size);
#endif
    s->dirty = false;
    return s;
  }
  auto* s = new Stack();
  s->size = kStackBytes;
  s->base = mmap(nullptr, s->size + Stack::page(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (s->base == MAP_FAILED) {
    delete s;
    return nullptr;
  }
  mprotect(s->base, Stack::page(), PROT_NONE);
  return s;
}

void give_stack(Stack* s) {
  if (s) tl_stacks.free.push_back(s);
}

// ---- switching between the scheduler and a fiber ------------------------------------------------------------------

// In a fiber: back to the scheduler. `final`: the fiber has exited and will never be resumed.
void to_scheduler(BlockState& b, ThreadState& t, bool final) {
#ifdef SADANET_SIM_TSAN
  __tsan_switch_to_fiber(b.tsan_scheduler, 0);
#endif
#ifdef SADANET_SIM_ASAN
  __sanitizer_start_switch_fiber(final ? nullptr : &t.fake_stack, b.sched_bottom, b.sched_size);
#endif
  bctx::transfer_t back = bctx::jump_fcontext(b.scheduler, nullptr);
  // Resumed by the scheduler.
  b.scheduler = back.fctx;
#ifdef SADANET_SIM_ASAN
  __sanitizer_finish_switch_fiber(t.fake_stack, &b.sched_bottom, &b.sched_size);
#endif
  (void)final;
}

void fiber_main(bctx::transfer_t in) {
  auto* b = static_cast<BlockState*>(in.data);
  b->scheduler = in.fctx;
  ThreadState* t = tl_thread;
#ifdef SADANET_SIM_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &b->sched_bottom, &b->sched_size);
#endif
  try {
    b->body(b->closure);
  } catch (const std::exception& e) {
    set_fault(*b, cudaErrorLaunchFailure, where(*t) + " threw a C++ exception: " + e.what());
  } catch (...) {
    set_fault(*b, cudaErrorLaunchFailure, where(*t) + " threw a C++ exception");
  }
  t->wait = Wait::exited;
  to_scheduler(*b, *t, true);
  std::abort();  // an exited fiber is never resumed
}

// In the scheduler: run `t` until it waits or exits.
void resume(BlockState& b, ThreadState& t) {
  if (t.wait == Wait::fresh) {
    t.stack = take_stack();
    if (!t.stack) {
      set_fault(b, cudaErrorLaunchOutOfResources, "the simulation could not map a fiber stack");
      return;
    }
    t.ctx = bctx::make_fcontext(t.stack->top(), t.stack->size, fiber_main);
#ifdef SADANET_SIM_TSAN
    t.tsan_fiber = __tsan_create_fiber(0);
#endif
  }
  t.wait = Wait::runnable;
  tl_thread = &t;
#ifdef SADANET_SIM_TSAN
  __tsan_switch_to_fiber(t.tsan_fiber, 0);
#endif
#ifdef SADANET_SIM_ASAN
  __sanitizer_start_switch_fiber(&b.sched_fake_stack, t.stack->bottom(), t.stack->size);
#endif
  bctx::transfer_t back = bctx::jump_fcontext(t.ctx, &b);
#ifdef SADANET_SIM_ASAN
  __sanitizer_finish_switch_fiber(b.sched_fake_stack, nullptr, nullptr);
#endif
  tl_thread = nullptr;
  t.ctx = back.fctx;
  if (t.wait == Wait::exited) {
#ifdef SADANET_SIM_TSAN
    __tsan_destroy_fiber(t.tsan_fiber);
    t.tsan_fiber = nullptr;
#endif
    give_stack(t.stack);
    t.stack = nullptr;
  }
}

// Fibers left waiting when a block faulted: their stacks go back to the pool, marked dirty.
void abandon(BlockState& b) {
  for (auto& t : b.threads) {
    if (t.stack) {
      t.stack->dirty = true;
      give_stack(t.stack);
      t.stack = nullptr;
    }
#ifdef SADANET_SIM_TSAN
    if (t.tsan_fiber) __tsan_destroy_fiber(t.tsan_fiber);
    t.tsan_fiber = nullptr;
#endif
  }
}

// ---- rendezvous, called from device code ------------------------------------------------------------------------------

void syncthreads(const char* file, int line) {
  ThreadState* t = tl_thread;
  if (!t) return;  // host code: nothing to wait for
  t->wait = Wait::barrier;
  t->file = file;
  t->line = line;
  to_scheduler(*tl_block, *t, false);
}

uint64_t warp_op(int kind, unsigned mask, uint64_t value, int arg, int width, const char* file, int line) {
  ThreadState* t = tl_thread;
  if (!t) return value;
  t->wait = Wait::warp;
  t->kind = kind;
  t->mask = mask;
  t->value = value;
  t->arg = arg;
  t->width = width;
  t->file = file;
  t->line = line;
  to_scheduler(*tl_block, *t, false);
  return t->result;
}

namespace {

std::string mask_str(unsigned m) {
  char b[16];
  std::snprintf(b, sizeof(b), "0x%08x", m);
  return b;
}

// Tries every warp's waiting operations; returns true when some lanes were released.
bool resolve_warps(BlockState& b) {
  const int n = static_cast<int>(b.threads.size());
  bool progress = false;
  for (int w0 = 0; w0 < n && !b.fault; w0 += 32) {
    for (int l = 0; l < 32 && w0 + l < n && !b.fault; ++l) {
      ThreadState& t = b.threads[w0 + l];
      if (t.wait != Wait::warp) continue;
      const std::string op = std::string(warp_kind_name(t.kind)) + " at " + site(t.file, t.line) + " by " + where(t);
      if (!(t.mask & (1u << l))) {
        set_fault(b, cudaErrorIllegalInstruction, op + ": its mask " + mask_str(t.mask) + " omits its own lane " +
                                                      std::to_string(l));
        return false;
      }
      if (t.width < 1 || t.width > 32 || (t.width & (t.width - 1))) {
        set_fault(b, cudaErrorIllegalInstruction, op + ": width " + std::to_string(t.width) +
                                                      " is not a power of two in [1, 32]");
        return false;
      }
      bool ready = true;
      for (int j = 0; j < 32; ++j) {
        if (!(t.mask & (1u << j))) continue;
        if (w0 + j >= n) {
          set_fault(b, cudaErrorIllegalInstruction,
                    op + ": mask " + mask_str(t.mask) + " names lane " + std::to_string(j) +
                        std::string(", which does not exist (the block has ") + std::to_string(n) + " threads)");
          return false;
        }
        const ThreadState& u = b.threads[w0 + j];
        if (u.wait == Wait::exited) {
          set_fault(b, cudaErrorIllegalInstruction,
                    op + ": mask " + mask_str(t.mask) + " names lane " + std::to_string(j) + ", which has exited");
          return false;
        }
        if (u.wait != Wait::warp) {
          ready = false;
          continue;
        }
        if (u.kind != t.kind || u.mask != t.mask || u.width != t.width) {
          set_fault(b, cudaErrorIllegalInstruction,
                    op + " with mask " + mask_str(t.mask) + " meets lane " + std::to_string(j) + " at " +
                        warp_kind_name(u.kind) + " (" + site(u.file, u.line) + ") with mask " + mask_str(u.mask));
          return false;
        }
      }
      if (!ready) continue;
      // Every lane of the mask is here: exchange.
      uint64_t ballot = 0;
      for (int j = 0; j < 32; ++j)
        if ((t.mask & (1u << j)) && (b.threads[w0 + j].value & 1)) ballot |= 1ull << j;
      for (int j = 0; j < 32; ++j) {
        if (!(t.mask & (1u << j))) continue;
        ThreadState& u = b.threads[w0 + j];
        const int seg = j & ~(u.width - 1), pos = j - seg;
        int src = j;
        switch (u.kind) {
          case kIdx: src = seg + (u.arg & (u.width - 1)); break;
          case kUp: src = pos >= u.arg ? j - u.arg : j; break;
          case kDown: src = pos + u.arg < u.width ? j + u.arg : j; break;
          case kXor: src = (j ^ u.arg) < seg + u.width ? (j ^ u.arg) : j; break;
          default: break;
        }
        if (u.kind <= kXor) {
          if (src < 0 || src > 31 || !(t.mask & (1u << src))) {
            set_fault(b, cudaErrorIllegalInstruction,
                      op + ": lane " + std::to_string(j) + " reads lane " + std::to_string(src) +
                          std::string(", which is not in the mask ") + mask_str(t.mask));
            return false;
          }
          u.result = b.threads[w0 + src].value;
        } else if (u.kind == kBallot) {
          u.result = ballot;
        }
      }
      for (int j = 0; j < 32; ++j)
        if (t.mask & (1u << j)) b.threads[w0 + j].wait = Wait::runnable;
      progress = true;
    }
  }
  return progress;
}

// All threads wait at a barrier: release them, unless they wait at different ones. Otherwise
// (some exited, some at warp operations that cannot complete) the block can never go on.
bool resolve_barrier(BlockState& b) {
  int at_barrier = 0, exited = 0, at_warp = 0;
  const ThreadState *first_barrier = nullptr, *first_exited = nullptr, *first_warp = nullptr, *other_site = nullptr;
  for (const auto& t : b.threads) {
    if (t.wait == Wait::barrier) {
      ++at_barrier;
      if (!first_barrier) first_barrier = &t;
      else if (!other_site && (t.line != first_barrier->line || std::strcmp(t.file, first_barrier->file) != 0))
        other_site = &t;
    } else if (t.wait == Wait::exited) {
      ++exited;
      if (!first_exited) first_exited = &t;
    } else if (t.wait == Wait::warp) {
      ++at_warp;
      if (!first_warp) first_warp = &t;
    }
  }
  const int n = static_cast<int>(b.threads.size());
  if (at_barrier == n) {
    if (other_site) {
      set_fault(b, cudaErrorIllegalInstruction,
                std::string("divergent __syncthreads: ") + where(*first_barrier) + " waits at " +
                    site(first_barrier->file, first_barrier->line) + ", " + where(*other_site) + " at " +
                    site(other_site->file, other_site->line));
      return false;
    }
    for (auto& t : b.threads) t.wait = Wait::runnable;
    return true;
  }
  if (at_barrier > 0 && at_warp == 0) {
    set_fault(b, cudaErrorIllegalInstruction,
              std::string("divergent __syncthreads: ") + std::to_string(at_barrier) + " threads wait at " +
                  site(first_barrier->file, first_barrier->line) + " (first " + where(*first_barrier) + "), but " +
                  std::to_string(exited) + " threads of the block have exited without reaching it (first " +
                  where(*first_exited) + ")");
    return false;
  }
  std::string text = "deadlock: no thread of the block can go on;";
  if (at_barrier)
    text += std::string(" ") + std::to_string(at_barrier) + " wait at __syncthreads (" +
            site(first_barrier->file, first_barrier->line) + ", first " + where(*first_barrier) + ");";
  if (at_warp)
    text += std::string(" ") + std::to_string(at_warp) + " wait at " + warp_kind_name(first_warp->kind) + " (" +
            site(first_warp->file, first_warp->line) + ", first " + where(*first_warp) + ", mask " +
            mask_str(first_warp->mask) + ") for lanes that are elsewhere;";
  if (exited) text += std::string(" ") + std::to_string(exited) + " have exited";
  set_fault(b, cudaErrorIllegalInstruction, text);
  return false;
}

// The order in which runnable fibers run between two rendezvous points.
void order_threads(std::vector<int>& order, Order o, std::mt19937_64& rng) {
  if (o == Order::reverse) std::reverse(order.begin(), order.end());
  else if (o == Order::random) std::shuffle(order.begin(), order.end(), rng);
}

void run_block(BlockState& b, const dim3& block, Order o, uint64_t seed) {
  const int n = static_cast<int>(block.x * block.y * block.z);
  b.threads.assign(n, ThreadState{});
  for (int i = 0; i < n; ++i) {
    auto& t = b.threads[i];
    t.linear = i;
    t.idx = uint3{static_cast<unsigned>(i % block.x), static_cast<unsigned>((i / block.x) % block.y),
                  static_cast<unsigned>(i / (block.x * block.y))};
  }
  std::mt19937_64 rng(seed);
  std::vector<int> order;
  order.reserve(n);
  int alive = n;
  while (alive > 0 && !b.fault) {
    order.clear();
    for (int i = 0; i < n; ++i)
      if (b.threads[i].wait == Wait::fresh || b.threads[i].wait == Wait::runnable) order.push_back(i);
    order_threads(order, o, rng);
    for (int i : order) {
      resume(b, b.threads[i]);
      if (b.fault) break;
      if (b.threads[i].wait == Wait::exited) --alive;
    }
    if (alive == 0 || b.fault) break;
    if (resolve_warps(b)) continue;
    if (b.fault || !resolve_barrier(b)) break;
  }
  if (b.fault) abandon(b);
}

// ---- host threads ---------------------------------------------------------------------------------------------------

// The blocks of one launch, shared by the host threads that run them.
struct Job {
  const LaunchConfig* cfg = nullptr;
  const char* name = nullptr;
  ThreadBody body = nullptr;
  void* closure = nullptr;
  uint64_t total = 0;
  uint64_t stride = 1;  // block visiting order: b -> (b * stride + offset) % total, a bijection
  uint64_t offset = 0;
  Order order = Order::forward;
  uint64_t seed = 0;
  std::atomic<uint64_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  cudaError_t code = cudaSuccess;
  std::string text;
};

void run_blocks(Job& job) {
  BlockState b;
  b.body = job.body;
  b.closure = job.closure;
  const dim3 grid = job.cfg->grid;
  tl_grid_dim = grid;
  tl_block_dim = job.cfg->block;
  tl_block = &b;
#ifdef SADANET_SIM_TSAN
  b.tsan_scheduler = __tsan_get_current_fiber();
#endif
  for (;;) {
    if (job.failed.load(std::memory_order_relaxed)) break;
    const uint64_t k = job.next.fetch_add(1);
    if (k >= job.total) break;
    const uint64_t lin = static_cast<uint64_t>((static_cast<unsigned __int128>(k) * job.stride + job.offset) % job.total);
    tl_block_idx = uint3{static_cast<unsigned>(lin % grid.x), static_cast<unsigned>((lin / grid.x) % grid.y),
                         static_cast<unsigned>(lin / (static_cast<uint64_t>(grid.x) * grid.y))};
    b.fault = false;
    run_block(b, job.cfg->block, job.order, job.seed ^ (lin * 0x9e3779b97f4a7c15ull));
    if (b.fault) {
      std::lock_guard<std::mutex> lock(job.mu);
      if (!job.failed.exchange(true)) {
        job.code = b.fault_code;
        job.text = std::string("kernel ") + job.name + ", block (" + std::to_string(tl_block_idx.x) + "," +
                   std::to_string(tl_block_idx.y) + "," + std::to_string(tl_block_idx.z) + "): " + b.fault_text;
      }
    }
  }
  tl_block = nullptr;
}

// Worker threads, started on first use; the launching thread works too.
class Pool {
 public:
  void run(Job& job, int threads) {
    ensure(threads - 1);
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = &job;
      want_ = threads - 1;
      busy_ = 0;
      ++generation_;
    }
    cv_.notify_all();
    run_blocks(job);
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [&] { return busy_ == want_; });
    job_ = nullptr;
  }

 private:
  void ensure(int n) {
    while (static_cast<int>(workers_.size()) < n) {
      const int id = static_cast<int>(workers_.size());
      uint64_t now = 0;
      {
        std::lock_guard<std::mutex> lock(mu_);
        now = generation_;
      }
      workers_.emplace_back([this, id, now] { work(id, now); });
      workers_.back().detach();  // lives as long as the process
    }
  }
  void work(int id, uint64_t seen) {
    for (;;) {
      Job* job = nullptr;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        if (id >= want_) continue;
        job = job_;
      }
      run_blocks(*job);
      std::lock_guard<std::mutex> lock(mu_);
      if (++busy_ == want_) done_.notify_all();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_, done_;
  std::vector<std::thread> workers_;
  Job* job_ = nullptr;
  int want_ = 0, busy_ = 0;
  uint64_t generation_ = 0;
};

std::atomic<uint64_t> g_launches{0};

std::string dims(const dim3& d) {
  return std::to_string(d.x) + "x" + std::to_string(d.y) + "x" + std::to_string(d.z);
}

// sm_90's launch limits, and the error the CUDA runtime returns for each.
cudaError_t check_config(const LaunchConfig& c, const char* name) {
  const std::string what = std::string("kernel ") + name + " with grid " + dims(c.grid) + ", block " + dims(c.block);
  if (c.block.x == 0 || c.block.y == 0 || c.block.z == 0 || c.grid.x == 0 || c.grid.y == 0 || c.grid.z == 0)
    return fail(cudaErrorInvalidConfiguration, what + ": a dimension is 0");
  if (c.block.x > 1024 || c.block.y > 1024 || c.block.z > 64)
    return fail(cudaErrorInvalidConfiguration, what + ": block dimensions exceed 1024x1024x64");
  if (static_cast<uint64_t>(c.block.x) * c.block.y * c.block.z > static_cast<uint64_t>(kMaxThreadsPerBlock))
    return fail(cudaErrorInvalidConfiguration, what + ": more than 1024 threads per block");
  if (c.grid.x > 0x7fffffffu || c.grid.y > 65535 || c.grid.z > 65535)
    return fail(cudaErrorInvalidConfiguration, what + ": grid dimensions exceed 2147483647x65535x65535");
  if (c.smem > kMaxStaticShared)
    return fail(cudaErrorInvalidValue, what + ": " + std::to_string(c.smem) +
                                           " B of dynamic shared memory exceed the 48 KiB a launch may ask for");
  if (c.smem > 0)
    return fail(cudaErrorNotSupported, what + ": dynamic shared memory is not simulated (no kernel of sadanet uses it)");
  if (!valid_stream(c.stream)) return fail(cudaErrorInvalidResourceHandle, what + ": unknown stream");
  return cudaSuccess;
}

uint64_t coprime_stride(uint64_t total, uint64_t seed) {
  if (total < 3) return 1;
  uint64_t s = (seed % (total - 1)) + 1;
  while (std::gcd(s, total) != 1) s = s % (total - 1) + 1;
  return s;
}

}  // namespace
}  // namespace detail

uint64_t launches() { return detail::g_launches.load(); }

cudaError_t launch(const LaunchConfig& cfg, const char* kernel_name, ThreadBody body, void* closure) {
  using namespace detail;
  if (tl_block) return fail(cudaErrorNotSupported, std::string("kernel ") + kernel_name + " launched from device code");
  if (cudaError_t e = check_config(cfg, kernel_name); e != cudaSuccess) return e;
  if (cudaError_t e = sticky(kernel_name); e != cudaSuccess) return e;
  g_launches.fetch_add(1);
  // One launch at a time, as on one stream. Never destroyed: the workers wait on the pool until
  // the process ends, and a launch may come from a static destructor.
  static auto* launch_mu = new std::mutex();
  static auto* pool = new Pool();
  std::lock_guard<std::mutex> lock(*launch_mu);
  const Settings s = settings();
  Job job;
  job.cfg = &cfg;
  job.name = kernel_name;
  job.body = body;
  job.closure = closure;
  job.total = static_cast<uint64_t>(cfg.grid.x) * cfg.grid.y * cfg.grid.z;
  job.order = s.order;
  job.seed = s.seed ^ (g_launches.load() * 0xd1b54a32d192ed03ull);
  if (s.order == Order::reverse) {
    job.stride = job.total - 1;  // k -> (total - 1) * (k + 1) mod total = total - 1 - k
    job.offset = job.total - 1;
  } else if (s.order == Order::random) {
    job.stride = coprime_stride(job.total, job.seed);
    job.offset = job.seed % job.total;
  }
  const int threads = static_cast<int>(std::min<uint64_t>(std::max(1, s.host_threads), job.total));
  if (threads <= 1) run_blocks(job);
  else pool->run(job, threads);
  if (job.failed.load()) return fail(job.code, job.text);
  return cudaSuccess;
}

}  // namespace cuda_sim
