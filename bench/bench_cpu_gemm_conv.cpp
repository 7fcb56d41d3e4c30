// CPU GEMM and conv2d throughput (GFLOP/s) at cube and ResNet-50 shapes, next to the measured
// FP32 peak. Names match bench/torch_cpu_compare.py, which runs the same shapes in PyTorch.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "cpu/gemm_cpu.h"
#include "kernels/kernels.h"
#include "sadanet/sadanet.h"

namespace sadanet_bench {
float fma_peak_loop(int64_t iters);  // peak_fp32_avx2.cpp
float fma_broadcast_loop(int64_t iters, const float* a);
float fma_peak_loop_avx512(int64_t iters);  // peak_fp32_avx512.cpp
}

namespace {
using namespace sadanet;

void set_gflops(benchmark::State& st, double flops_per_iter) {
  st.counters["GFLOP/s"] = benchmark::Counter(flops_per_iter * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// Runs the body with n OpenMP threads, restoring the previous count afterwards.
struct ThreadScope {
  int prev;
  explicit ThreadScope(int n) : prev(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~ThreadScope() { omp_set_num_threads(prev); }
};

// An FMA loop (`flops_per_round` per round) on `threads` threads at once; `isa` names what the
// CPU must have ("avx2": AVX2+FMA, "avx512f").
void peak_fp32(benchmark::State& st, int threads, float (*loop)(int64_t), double flops_per_round, const char* isa) {
  __builtin_cpu_init();
  const bool ok = std::string(isa) == "avx2" ? cpu_has_avx2_fma() : __builtin_cpu_supports("avx512f") != 0;
  if (!ok) { st.SkipWithError((std::string("CPU lacks ") + isa).c_str()); return; }
  const int64_t iters = 10'000'000;
  float sink = 0;
  for (auto _ : st) {
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    sink += loop(iters);
  }
  benchmark::DoNotOptimize(sink);
  set_gflops(st, flops_per_round * static_cast<double>(iters) * threads);
}

// fma_broadcast_loop: the micro-kernel's broadcast + FMA mix, one thread per team member.
void broadcast_fma(benchmark::State& st, int threads) {
  if (!cpu_has_avx2_fma()) { st.SkipWithError("CPU lacks AVX2/FMA"); return; }
  const int64_t iters = 20'000'000;
  std::vector<float> a(64 * 6, 1e-3f);
  float sink = 0;
  for (auto _ : st) {
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    sink += sadanet_bench::fma_broadcast_loop(iters, a.data());
  }
  benchmark::DoNotOptimize(sink);
  set_gflops(st, 192.0 * static_cast<double>(iters) * threads);
}

std::vector<float> random_floats(size_t n) {
  std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

using GemmImpl = void (*)(const GemmArgs&, const float*, const float*, float*);

// C (m x n) = A (m x k) B (k x n), each operand row-major and contiguous, `batch` times.
void gemm_bench(benchmark::State& st, int64_t m, int64_t n, int64_t k, int64_t batch, int threads, GemmImpl impl) {
  ThreadScope ts(threads);
  GemmArgs g;
  g.batch = batch; g.m = m; g.n = n; g.k = k;
  g.lda = k; g.ldb = n; g.ldc = n;
  g.stride_a = m * k; g.stride_b = k * n; g.stride_c = m * n;
  auto a = random_floats(batch * m * k), b = random_floats(batch * k * n);
  std::vector<float> c(batch * m * n);
  for (auto _ : st) {
    impl(g, a.data(), b.data(), c.data());
    benchmark::ClobberMemory();
  }
  set_gflops(st, 2.0 * m * n * k * batch);
}

struct ConvShape {
  const char* name;
  int64_t C, O, H, k, stride, pad;
};
// ResNet-50 layers (torchvision: the stride of a bottleneck sits on its 3x3 conv).
const ConvShape kConvShapes[] = {
    {"conv1_7x7_3_64_224_s2", 3, 64, 224, 7, 2, 3},   {"l1_1x1_64_64_56", 64, 64, 56, 1, 1, 0},
    {"l1_3x3_64_64_56", 64, 64, 56, 3, 1, 1},         {"l1_1x1_64_256_56", 64, 256, 56, 1, 1, 0},
    {"l1_1x1_256_64_56", 256, 64, 56, 1, 1, 0},       {"l2_3x3_128_128_56_s2", 128, 128, 56, 3, 2, 1},
    {"l2_1x1_256_512_56_s2", 256, 512, 56, 1, 2, 0},  {"l2_3x3_128_128_28", 128, 128, 28, 3, 1, 1},
    {"l3_3x3_256_256_14", 256, 256, 14, 3, 1, 1},     {"l4_3x3_512_512_7", 512, 512, 7, 3, 1, 1},
    {"l4_1x1_512_2048_7", 512, 2048, 7, 1, 1, 0},
};
constexpr int64_t kConvBatch = 8;

enum class ConvPass { forward, backward_input, backward_weight };

void conv_bench(benchmark::State& st, const ConvShape& s, ConvPass pass) {
  const auto p = Conv2dParams::make(s.stride, s.pad);
  const int64_t Ho = (s.H + 2 * s.pad - s.k) / s.stride + 1;
  Tensor x = randn({kConvBatch, s.C, s.H, s.H});
  Tensor w = randn({s.O, s.C, s.k, s.k});
  Tensor gy = randn({kConvBatch, s.O, Ho, Ho});
  Tensor y = empty(gy.shape()), gx = empty(x.shape()), gw = empty(w.shape());
  for (auto _ : st) {
    switch (pass) {
      case ConvPass::forward: kernels::conv2d_forward().get(kCPU)(x, w, Tensor(), p, y); break;
      case ConvPass::backward_input: kernels::conv2d_backward_input().get(kCPU)(gy, w, p, gx); break;
      case ConvPass::backward_weight: kernels::conv2d_backward_weight().get(kCPU)(gy, x, p, gw); break;
    }
  }
  set_gflops(st, 2.0 * kConvBatch * s.O * Ho * Ho * s.C * s.k * s.k);
}

// Rates use wall time (multi-threaded: not the main thread's CPU time). On a busy machine,
// SADANET_BENCH_CPU_TIME=1 with OMP_WAIT_POLICY=passive rates per second of CPU used by the
// whole process instead: comparable between variants while other jobs take turns on the cores.
template <class Fn, class... Args>
void add(const std::string& name, double min_time, Fn fn, Args... args) {
  auto* b = benchmark::RegisterBenchmark(name.c_str(), fn, args...)->Unit(benchmark::kMillisecond)->MinTime(min_time);
  if (std::getenv("SADANET_BENCH_CPU_TIME")) b->MeasureProcessCPUTime();
  else b->UseRealTime();
}

const bool registered = [] {
  const int threads = omp_get_max_threads();
  using sadanet_bench::fma_peak_loop, sadanet_bench::fma_peak_loop_avx512;
  add("peak_fp32/threads:1", 0.5, peak_fp32, 1, &fma_peak_loop, 192.0, "avx2");
  add("peak_fp32/threads:" + std::to_string(threads), 0.5, peak_fp32, threads, &fma_peak_loop, 192.0, "avx2");
  add("peak_fp32_broadcast_fed/threads:1", 0.5, broadcast_fma, 1);
  add("peak_fp32_avx512/threads:1", 0.5, peak_fp32, 1, &fma_peak_loop_avx512, 384.0, "avx512f");
  add("peak_fp32_avx512/threads:" + std::to_string(threads), 0.5, peak_fp32, threads, &fma_peak_loop_avx512, 384.0,
      "avx512f");
  const GemmImpl def = &cpu::gemm<float>, generic = &cpu::gemm_impl::generic_f32;
  for (int64_t n : {256, 512, 1024, 1536, 2048})
    add("gemm/cube_" + std::to_string(n), 1.0, gemm_bench, n, n, n, int64_t{1}, threads, def);
  add("gemm/cube_1024_1thread", 1.0, gemm_bench, 1024, 1024, 1024, int64_t{1}, 1, def);
  add("gemm/cube_1024_portable_build", 1.0, gemm_bench, 1024, 1024, 1024, int64_t{1}, threads, generic);
  add("gemm/cube_1024_eigen_avx2", 1.0, gemm_bench, 1024, 1024, 1024, int64_t{1}, threads,
      GemmImpl{&cpu::gemm_impl::eigen_avx2_f32});
  // ResNet-50 convolutions as per-image GEMMs (M = out channels, N = Ho*Wo, K = C*kh*kw) and the fc layer.
  add("gemm/l1_1x1_64_256_56_M256_N3136_K64", 1.0, gemm_bench, 256, 3136, 64, int64_t{1}, threads, def);
  add("gemm/l1_3x3_64_56_M64_N3136_K576", 1.0, gemm_bench, 64, 3136, 576, int64_t{1}, threads, def);
  add("gemm/l3_3x3_256_14_M256_N196_K2304", 1.0, gemm_bench, 256, 196, 2304, int64_t{1}, threads, def);
  add("gemm/l4_3x3_512_7_M512_N49_K4608", 1.0, gemm_bench, 512, 49, 4608, int64_t{1}, threads, def);
  add("gemm/fc_M8_N1000_K2048", 1.0, gemm_bench, 8, 1000, 2048, int64_t{1}, threads, def);
  // Batched small products: threads split the batch below GEMM's own parallel grain.
  add("gemm/batched_64x64x64_b64", 1.0, gemm_bench, 64, 64, 64, int64_t{64}, threads, def);
  add("gemm/batched_128x128x128_b16", 1.0, gemm_bench, 128, 128, 128, int64_t{16}, threads, def);
  add("gemm/batched_256x256x256_b8", 1.0, gemm_bench, 256, 256, 256, int64_t{8}, threads, def);
  for (const auto& s : kConvShapes) {
    add(std::string("conv_fwd/") + s.name, 0.5, conv_bench, s, ConvPass::forward);
    add(std::string("conv_bwd_input/") + s.name, 0.5, conv_bench, s, ConvPass::backward_input);
    add(std::string("conv_bwd_weight/") + s.name, 0.5, conv_bench, s, ConvPass::backward_weight);
  }
  return true;
}();

}  // namespace
