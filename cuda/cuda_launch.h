// SADANET_LAUNCH: the one way cuda/ launches a kernel.
//
//   SADANET_LAUNCH((grid, block, smem, stream), kernel<T, Op>)(args...);
//
// Under nvcc it is `kernel<<<grid, block, smem, stream>>>(args...)` followed by the launch check;
// in the CUDA simulation build (cuda/sim/) it runs the kernel on the CPU, one simulated thread per
// call of `kernel(args...)`. Either way template arguments the call does not name are deduced from
// the arguments, as with `<<<>>>`, and a failure throws an Error naming the kernel and its grid and
// block. The configuration may omit smem and stream, as `<<<>>>` may.
//
// Debug switch: SADANET_CUDA_SYNC=1 (or set_sync_launches(true)) waits for every kernel right after
// its launch, so a fault inside it is reported under its own name instead of at some later call.
#pragma once
#include <cuda_runtime.h>

#include <utility>

namespace sadanet::cuda {

struct LaunchConfig {
  dim3 grid, block;
  size_t smem;
  cudaStream_t stream;
  LaunchConfig(dim3 g, dim3 b, size_t shared_bytes = 0, cudaStream_t s = nullptr)
      : grid(g), block(b), smem(shared_bytes), stream(s) {}
};

void set_sync_launches(bool on);
bool sync_launches();  // SADANET_CUDA_SYNC=1, read at first use, or the setter

// Throws when the launch failed (and, when sync_launches(), when the kernel faulted).
void check_launch(const char* kernel, const LaunchConfig& c);

template <class Body> struct Launch {
  const char* name;
  LaunchConfig cfg;
  Body body;
  template <class... A> void operator()(A&&... args) {
    body(cfg, std::forward<A>(args)...);
    check_launch(name, cfg);
  }
};
template <class Body> Launch<Body> make_launch(const char* name, const LaunchConfig& cfg, Body body) {
  return Launch<Body>{name, cfg, std::move(body)};
}

}  // namespace sadanet::cuda

#ifdef SADANET_CUDA_SIM_RUNTIME
namespace sadanet::cuda {
template <class F> void sim_launch(const LaunchConfig& c, const char* name, F& thread_body) {
  ::cuda_sim::launch({c.grid, c.block, c.smem, c.stream}, name, [](void* f) { (*static_cast<F*>(f))(); },
                     &thread_body);
}
}  // namespace sadanet::cuda
// Each simulated thread calls the kernel with its own copies of the arguments (by-value
// parameters), as every CUDA thread gets its own copy of the kernel parameters.
#define SADANET_LAUNCH_BODY_(...)                                                        \
  [&](const ::sadanet::cuda::LaunchConfig& sadanet_cfg_, auto&&... sadanet_args_) {      \
    auto sadanet_thread_ = [&] { __VA_ARGS__(sadanet_args_...); };                      \
    ::sadanet::cuda::sim_launch(sadanet_cfg_, #__VA_ARGS__, sadanet_thread_);            \
  }
#else
#define SADANET_LAUNCH_BODY_(...)                                                                               \
  [&](const ::sadanet::cuda::LaunchConfig& sadanet_cfg_, auto&&... sadanet_args_) {                             \
    __VA_ARGS__<<<sadanet_cfg_.grid, sadanet_cfg_.block, sadanet_cfg_.smem, sadanet_cfg_.stream>>>(sadanet_args_...); \
  }
#endif

// cfg is parenthesised: (grid, block[, smem[, stream]]); the kernel may contain commas.
#define SADANET_LAUNCH(cfg, ...) \
  ::sadanet::cuda::make_launch(#__VA_ARGS__, ::sadanet::cuda::LaunchConfig cfg, SADANET_LAUNCH_BODY_(__VA_ARGS__))
