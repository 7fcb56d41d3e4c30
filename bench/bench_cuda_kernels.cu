// CUDA kernel benchmarks at ResNet-50 sizes (batch 256), through the kernel slots.
//
// Timing: CUDA events around each run (manual time), after a warm-up run (which also lets cuDNN
// pick its algorithms) and with the L2 cache flushed before every timed run by writing a buffer
// twice the L2 size (H200: 60 MB L2). Memory-bound kernels report GB/s = bytes the
// implementation moves / time, beside the measured device-to-device cudaMemcpy bandwidth
// (ceil_GB/s, %ceil). GEMM and conv report TFLOP/s beside cuBLAS GEMM at 8192^3 in bf16 and TF32
// (ceil_bf16, ceil_tf32, %tf32). Rates are computed from the GPU time, not the CPU time Google
// Benchmark's rate counters would use.
//
//   ./sadanet_bench_cuda --benchmark_filter=Conv   (SADANET_TF32=1 / SADANET_CONV=implicit_gemm apply too)
#include <benchmark/benchmark.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "conv_cuda.h"
#include "cuda_config.h"
#include "cuda_optim.h"
#include "kernels/kernels.h"
#include "sadanet/sadanet.h"

namespace {
using namespace sadanet;

#define BENCH_CUDA(expr)                                                                               \
  do {                                                                                                 \
    cudaError_t e_ = (expr);                                                                           \
    if (e_ != cudaSuccess)                                                                             \
      throw std::runtime_error(std::string(#expr) + ": " + cudaGetErrorString(e_));                    \
  } while (0)
#define BENCH_CUBLAS(expr)                                                                             \
  do {                                                                                                 \
    cublasStatus_t s_ = (expr);                                                                        \
    if (s_ != CUBLAS_STATUS_SUCCESS)                                                                   \
      throw std::runtime_error(std::string(#expr) + ": " + cublasGetStatusString(s_));                 \
  } while (0)

const Device kGpu(DeviceType::cuda, 0);

// ---- timing -----------------------------------------------------------------------------------------

class Gpu {
 public:
  static Gpu& get() {
    static Gpu g;
    return g;
  }
  // Evicts the L2: writes a buffer twice its size.
  void flush_l2() { BENCH_CUDA(cudaMemsetAsync(flush_, ++flush_value_ & 0xff, flush_bytes_)); }
  // Seconds of GPU time of fn(), L2 flushed before.
  double time(const std::function<void()>& fn) {
    flush_l2();
    BENCH_CUDA(cudaEventRecord(start_));
    fn();
    BENCH_CUDA(cudaEventRecord(stop_));
    BENCH_CUDA(cudaEventSynchronize(stop_));
    float ms = 0;
    BENCH_CUDA(cudaEventElapsedTime(&ms, start_, stop_));
    return ms * 1e-3;
  }
  cublasHandle_t cublas() {
    if (!cublas_) BENCH_CUBLAS(cublasCreate(&cublas_));
    return cublas_;
  }

 private:
  Gpu() {
    int dev = 0, l2 = 0;
    BENCH_CUDA(cudaGetDevice(&dev));
    BENCH_CUDA(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev));
    flush_bytes_ = std::max<size_t>(2 * static_cast<size_t>(l2), size_t{64} << 20);
    BENCH_CUDA(cudaMalloc(&flush_, flush_bytes_));
    BENCH_CUDA(cudaEventCreate(&start_));
    BENCH_CUDA(cudaEventCreate(&stop_));
  }
  void* flush_ = nullptr;
  size_t flush_bytes_ = 0;
  int flush_value_ = 0;
  cudaEvent_t start_{}, stop_{};
  cublasHandle_t cublas_ = nullptr;
};

// Runs fn under the benchmark loop; returns the mean GPU seconds per run.
double run(benchmark::State& st, const std::function<void()>& fn) {
  fn();  // warm-up (allocator, cuBLAS/cuDNN setup, algorithm search)
  BENCH_CUDA(cudaDeviceSynchronize());
  double total = 0;
  int64_t n = 0;
  for (auto _ : st) {
    const double s = Gpu::get().time(fn);
    st.SetIterationTime(s);
    total += s;
    ++n;
  }
  return n ? total / static_cast<double>(n) : 0.0;
}

// ---- ceilings (measured once, on first use) ---------------------------------------------------------

double measure_copy_gbps() {
  static const double v = [] {
    const size_t bytes = size_t{1} << 30;
    void *a = nullptr, *b = nullptr;
    BENCH_CUDA(cudaMalloc(&a, bytes));
    BENCH_CUDA(cudaMalloc(&b, bytes));
    BENCH_CUDA(cudaMemset(a, 1, bytes));
    double best = 1e30;
    for (int i = 0; i < 10; ++i)
      best = std::min(best, Gpu::get().time([&] { BENCH_CUDA(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice)); }));
    BENCH_CUDA(cudaFree(a));
    BENCH_CUDA(cudaFree(b));
    return 2.0 * static_cast<double>(bytes) / best * 1e-9;  // read + write
  }();
  return v;
}

// cuBLAS C = A B at n^3 in bf16 (f32 accumulate) or f32 with TF32 tensor cores; TFLOP/s.
double cublas_gemm_tflops(bool bf16, int n, int reps) {
  const size_t elem = bf16 ? 2 : 4;
  void *a = nullptr, *b = nullptr, *c = nullptr;
  const size_t bytes = static_cast<size_t>(n) * n * elem;
  BENCH_CUDA(cudaMalloc(&a, bytes));
  BENCH_CUDA(cudaMalloc(&b, bytes));
  BENCH_CUDA(cudaMalloc(&c, bytes));
  BENCH_CUDA(cudaMemset(a, 0, bytes));  // zeros: the timing does not depend on the values
  BENCH_CUDA(cudaMemset(b, 0, bytes));
  const float alpha = 1, beta = 0;
  const cudaDataType dt = bf16 ? CUDA_R_16BF : CUDA_R_32F;
  const cublasComputeType_t ct = bf16 ? CUBLAS_COMPUTE_32F : CUBLAS_COMPUTE_32F_FAST_TF32;
  auto gemm = [&] {
    BENCH_CUBLAS(cublasGemmEx(Gpu::get().cublas(), CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, a, dt, n, b, dt, n, &beta,
                              c, dt, n, ct, CUBLAS_GEMM_DEFAULT));
  };
  gemm();
  double best = 1e30;
  for (int i = 0; i < reps; ++i) best = std::min(best, Gpu::get().time(gemm));
  BENCH_CUDA(cudaFree(a));
  BENCH_CUDA(cudaFree(b));
  BENCH_CUDA(cudaFree(c));
  return 2.0 * n * static_cast<double>(n) * n / best * 1e-12;
}
double ceiling_bf16() {
  static const double v = cublas_gemm_tflops(true, 8192, 10);
  return v;
}
double ceiling_tf32() {
  static const double v = cublas_gemm_tflops(false, 8192, 10);
  return v;
}

void report_bandwidth(benchmark::State& st, double bytes, double seconds) {
  if (seconds <= 0) return;
  const double gbps = bytes / seconds * 1e-9, ceil = measure_copy_gbps();
  st.counters["GB/s"] = gbps;
  st.counters["ceil_GB/s"] = ceil;
  st.counters["%ceil"] = 100.0 * gbps / ceil;
}

void report_flops(benchmark::State& st, double flops, double seconds) {
  if (seconds <= 0) return;
  const double tf = flops / seconds * 1e-12;
  st.counters["TFLOP/s"] = tf;
  st.counters["ceil_bf16"] = ceiling_bf16();
  st.counters["ceil_tf32"] = ceiling_tf32();
  st.counters["%tf32"] = 100.0 * tf / ceiling_tf32();
}

// ---- tensors -------------------------------------------------------------------------------------------

Tensor gpu_randn(const Shape& s, DType t = DType::f32) { return randn(s, TensorOptions(t, kGpu)); }
Tensor gpu_empty(const Shape& s, DType t = DType::f32) { return empty(s, TensorOptions(t, kGpu)); }
double nbytes(const Tensor& t) { return static_cast<double>(t.nbytes()); }

const Shape kAct{256, 256, 56, 56};  // a ResNet-50 layer1 activation at batch 256 (822 MB in f32)

// ---- ceilings as benchmarks ----------------------------------------------------------------------------

void BM_Ceiling_MemcpyD2D(benchmark::State& st) {
  const size_t bytes = size_t{1} << 30;
  void *a = nullptr, *b = nullptr;
  BENCH_CUDA(cudaMalloc(&a, bytes));
  BENCH_CUDA(cudaMalloc(&b, bytes));
  const double s = run(st, [&] { BENCH_CUDA(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice)); });
  report_bandwidth(st, 2.0 * bytes, s);
  BENCH_CUDA(cudaFree(a));
  BENCH_CUDA(cudaFree(b));
}

void BM_Ceiling_CublasGemm8192(benchmark::State& st, bool bf16) {
  double tf = 0;
  for (auto _ : st) {
    tf = cublas_gemm_tflops(bf16, 8192, 5);
    st.SetIterationTime(2.0 * 8192.0 * 8192.0 * 8192.0 / (tf * 1e12));
  }
  st.counters["TFLOP/s"] = tf;
}

// ---- memory-bound kernels --------------------------------------------------------------------------

void BM_CopyPermuteNCHWtoNHWC(benchmark::State& st) {
  Tensor x = gpu_randn(kAct);
  Tensor src = x.permute({0, 2, 3, 1});  // strided source
  Tensor dst = gpu_empty(src.shape());
  const double s = run(st, [&] { kernels::copy().get(kGpu)(src, dst); });
  report_bandwidth(st, 2 * nbytes(x), s);
}

void BM_CopyConvertF32toBF16(benchmark::State& st) {
  Tensor x = gpu_randn(kAct);
  Tensor y = gpu_empty(kAct, DType::bf16);
  const double s = run(st, [&] { kernels::copy().get(kGpu)(x, y); });
  report_bandwidth(st, nbytes(x) + nbytes(y), s);
}

void BM_Add(benchmark::State& st) {
  Tensor a = gpu_randn(kAct), b = gpu_randn(kAct), out = gpu_empty(kAct);
  const double s = run(st, [&] { kernels::binary().get(kGpu)(BinaryOp::add, a, b, out); });
  report_bandwidth(st, 3 * nbytes(a), s);
}

void BM_AddBroadcastChannel(benchmark::State& st) {
  Tensor a = gpu_randn(kAct), b = gpu_randn({1, kAct[1], 1, 1}), out = gpu_empty(kAct);
  Tensor be = b.expand(kAct);
  const double s = run(st, [&] { kernels::binary().get(kGpu)(BinaryOp::add, a, be, out); });
  report_bandwidth(st, 2 * nbytes(a), s);
}

void BM_Relu(benchmark::State& st) {
  Tensor x = gpu_randn(kAct), out = gpu_empty(kAct);
  const double s = run(st, [&] { kernels::unary().get(kGpu)(UnaryOp::relu, x, out, 0, 0); });
  report_bandwidth(st, 2 * nbytes(x), s);
}

// op over [outer, r, inner] of a kAct-sized tensor.
void BM_Reduce(benchmark::State& st, ReduceOp op, int64_t outer, int64_t r, int64_t inner) {
  Tensor x = gpu_randn({outer, r, inner}), out = gpu_empty({outer, inner});
  Tensor idx = op == ReduceOp::max ? gpu_empty({outer, inner}, DType::i64) : Tensor();
  const double s = run(st, [&] { kernels::reduce().get(kGpu)(op, x, outer, r, inner, out, idx, 1); });
  const double passes = op == ReduceOp::var ? 2 : 1;
  report_bandwidth(st, passes * nbytes(x) + nbytes(out), s);
}

void BM_Softmax(benchmark::State& st, bool log, bool backward, int64_t rows, int64_t d, int64_t inner) {
  Tensor x = gpu_randn({rows, d, inner}), y = gpu_empty(x.shape()), g = gpu_randn(x.shape()), gx = gpu_empty(x.shape());
  kernels::softmax_forward().get(kGpu)(x, rows, d, inner, log, y);
  double s;
  if (!backward) {
    s = run(st, [&] { kernels::softmax_forward().get(kGpu)(x, rows, d, inner, log, y); });
    report_bandwidth(st, 2 * nbytes(x), s);  // one read (rows stay in L1/L2 between passes) + one write
  } else {
    s = run(st, [&] { kernels::softmax_backward().get(kGpu)(g, y, rows, d, inner, log, gx); });
    report_bandwidth(st, 3 * nbytes(x), s);
  }
}

void BM_BatchNormTrainForward(benchmark::State& st) {
  const int64_t C = kAct[1];
  Tensor x = gpu_randn(kAct), y = gpu_empty(kAct), w = gpu_randn({C}), b = gpu_randn({C});
  Tensor rm = zeros({C}, TensorOptions(kGpu)), rv = ones({C}, TensorOptions(kGpu));
  Tensor sm = gpu_empty({C}), si = gpu_empty({C});
  const double s = run(st, [&] { kernels::batch_norm_train().get(kGpu)(x, w, b, rm, rv, 0.1, 1e-5, y, sm, si); });
  report_bandwidth(st, 4 * nbytes(x), s);  // x read three times (sum, squared deviations, normalise), y written
}

void BM_BatchNormTrainBackward(benchmark::State& st) {
  const int64_t C = kAct[1];
  Tensor x = gpu_randn(kAct), gy = gpu_randn(kAct), gx = gpu_empty(kAct), w = gpu_randn({C});
  Tensor mean = gpu_randn({C}), invstd = ones({C}, TensorOptions(kGpu)), gw = gpu_empty({C}), gb = gpu_empty({C});
  const double s =
      run(st, [&] { kernels::batch_norm_backward().get(kGpu)(gy, x, w, mean, invstd, true, gx, gw, gb); });
  report_bandwidth(st, 5 * nbytes(x), s);  // x and g read twice, grad_x written
}

void BM_BatchNormEval(benchmark::State& st) {
  const int64_t C = kAct[1];
  Tensor x = gpu_randn(kAct), y = gpu_empty(kAct), w = gpu_randn({C}), b = gpu_randn({C});
  Tensor rm = zeros({C}, TensorOptions(kGpu)), rv = ones({C}, TensorOptions(kGpu));
  const double s = run(st, [&] { kernels::batch_norm_eval().get(kGpu)(x, w, b, rm, rv, 1e-5, y); });
  report_bandwidth(st, 2 * nbytes(x), s);
}

// The parameter sizes of ResNet-50 (conv weights, batch-norm weight and bias, fc), 25.6M in all.
std::vector<int64_t> resnet50_param_sizes() {
  std::vector<int64_t> v;
  auto conv = [&](int64_t o, int64_t c, int64_t k) { v.push_back(o * c * k * k); };
  auto bn = [&](int64_t c) { v.push_back(c); v.push_back(c); };
  conv(64, 3, 7);
  bn(64);
  int64_t in = 64;
  const int64_t widths[4] = {64, 128, 256, 512}, blocks[4] = {3, 4, 6, 3};
  for (int s = 0; s < 4; ++s)
    for (int64_t b = 0; b < blocks[s]; ++b) {
      const int64_t w = widths[s], out = 4 * w;
      conv(w, in, 1); bn(w);
      conv(w, w, 3); bn(w);
      conv(out, w, 1); bn(out);
      if (b == 0) { conv(out, in, 1); bn(out); }
      in = out;
    }
  v.push_back(1000 * 2048);
  v.push_back(1000);
  return v;
}

void BM_Adam(benchmark::State& st, bool multi) {
  std::vector<cuda::AdamParamRef> refs;
  int64_t total = 0;
  for (int64_t n : resnet50_param_sizes()) {
    refs.push_back({gpu_randn({n}), gpu_randn({n}), zeros({n}, TensorOptions(kGpu)), zeros({n}, TensorOptions(kGpu)), 1});
    total += n;
  }
  const kernels::AdamArgs a{1e-3, 0.9, 0.999, 1e-8, 1e-4, true, 1};
  const double s = run(st, [&] {
    if (multi) {
      cuda::adam_multi_tensor(refs, a);
    } else {
      for (auto& r : refs) kernels::adam_step().get(kGpu)(r.param, r.grad, r.exp_avg, r.exp_avg_sq, a);
    }
  });
  report_bandwidth(st, 7.0 * 4.0 * static_cast<double>(total), s);  // p, g, m, v read; p, m, v written
  st.counters["tensors"] = static_cast<double>(refs.size());
}

// ---- compute-bound kernels --------------------------------------------------------------------------

void BM_Gemm(benchmark::State& st, int64_t m, int64_t n, int64_t k, bool tf32) {
  cuda::set_tf32(tf32);
  Tensor a = gpu_randn({m, k}), b = gpu_randn({k, n}), c = gpu_empty({m, n});
  GemmArgs g;
  g.m = m; g.n = n; g.k = k;
  g.lda = k; g.ldb = n; g.ldc = n;
  const double s = run(st, [&] { kernels::gemm().get(kGpu)(g, a, b, c); });
  cuda::set_tf32(false);
  report_flops(st, 2.0 * m * n * static_cast<double>(k), s);
}

enum class ConvDir { forward, backward_input, backward_weight };

// A ResNet-50 convolution at batch 256: x [256, c, hw, hw], weight [o, c, k, k].
void BM_Conv(benchmark::State& st, ConvDir dir, cuda::ConvBackend backend, int64_t c, int64_t o, int64_t hw, int64_t k,
             int64_t stride, int64_t pad) {
  const int64_t N = 256;
  cuda::set_conv_backend(backend);
  const Conv2dParams p = Conv2dParams::make(stride, pad);
  const int64_t ho = (hw + 2 * pad - k) / stride + 1;
  Tensor x = gpu_randn({N, c, hw, hw}), w = gpu_randn({o, c, k, k}), y = gpu_randn({N, o, ho, ho});
  Tensor gx = gpu_empty(x.shape()), gw = gpu_empty(w.shape());
  double s = 0;
  switch (dir) {
    case ConvDir::forward: s = run(st, [&] { kernels::conv2d_forward().get(kGpu)(x, w, Tensor(), p, y); }); break;
    case ConvDir::backward_input: s = run(st, [&] { kernels::conv2d_backward_input().get(kGpu)(y, w, p, gx); }); break;
    case ConvDir::backward_weight: s = run(st, [&] { kernels::conv2d_backward_weight().get(kGpu)(y, x, p, gw); }); break;
  }
  cuda::set_conv_backend(cuda::cudnn_available() ? cuda::ConvBackend::cudnn : cuda::ConvBackend::implicit_gemm);
  report_flops(st, 2.0 * N * o * ho * ho * static_cast<double>(c * k * k), s);
}

// ---- registration ----------------------------------------------------------------------------------

template <class Fn, class... Args> void reg(const std::string& name, Fn fn, Args... args) {
  benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { fn(st, args...); })
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}

const bool registered = [] {
  reg("Ceiling/MemcpyD2D_1GiB", BM_Ceiling_MemcpyD2D);
  reg("Ceiling/CublasGemm8192_bf16", BM_Ceiling_CublasGemm8192, true);
  reg("Ceiling/CublasGemm8192_tf32", BM_Ceiling_CublasGemm8192, false);

  reg("Copy/permute_NCHW_to_NHWC_256x256x56x56", BM_CopyPermuteNCHWtoNHWC);
  reg("Copy/convert_f32_to_bf16_256x256x56x56", BM_CopyConvertF32toBF16);
  reg("Binary/add_256x256x56x56", BM_Add);
  reg("Binary/add_channel_broadcast_256x256x56x56", BM_AddBroadcastChannel);
  reg("Unary/relu_256x256x56x56", BM_Relu);
  reg("Reduce/sum_all_256x256x56x56", BM_Reduce, ReduceOp::sum, int64_t{1}, kAct[0] * kAct[1] * kAct[2] * kAct[3], int64_t{1});
  reg("Reduce/sum_over_C_256x256x56x56", BM_Reduce, ReduceOp::sum, kAct[0], kAct[1], kAct[2] * kAct[3]);
  reg("Reduce/mean_over_HW_256x2048x7x7", BM_Reduce, ReduceOp::mean, int64_t{256 * 2048}, int64_t{49}, int64_t{1});
  reg("Reduce/max_over_C_256x256x56x56", BM_Reduce, ReduceOp::max, kAct[0], kAct[1], kAct[2] * kAct[3]);
  reg("Reduce/var_all_256x256x56x56", BM_Reduce, ReduceOp::var, int64_t{1}, kAct[0] * kAct[1] * kAct[2] * kAct[3], int64_t{1});
  reg("Softmax/forward_65536x1000", BM_Softmax, false, false, int64_t{65536}, int64_t{1000}, int64_t{1});
  reg("Softmax/log_forward_65536x1000", BM_Softmax, true, false, int64_t{65536}, int64_t{1000}, int64_t{1});
  reg("Softmax/backward_65536x1000", BM_Softmax, false, true, int64_t{65536}, int64_t{1000}, int64_t{1});
  reg("Softmax/forward_dim1_256x21x128x128", BM_Softmax, false, false, int64_t{256}, int64_t{21}, int64_t{128 * 128});
  reg("BatchNorm/train_forward_256x256x56x56", BM_BatchNormTrainForward);
  reg("BatchNorm/train_backward_256x256x56x56", BM_BatchNormTrainBackward);
  reg("BatchNorm/eval_256x256x56x56", BM_BatchNormEval);
  reg("Adam/per_tensor_resnet50", BM_Adam, false);
  reg("Adam/multi_tensor_resnet50", BM_Adam, true);

  reg("Gemm/f32_8192", BM_Gemm, int64_t{8192}, int64_t{8192}, int64_t{8192}, false);
  reg("Gemm/tf32_8192", BM_Gemm, int64_t{8192}, int64_t{8192}, int64_t{8192}, true);
  reg("Gemm/f32_fc_256x1000x2048", BM_Gemm, int64_t{256}, int64_t{1000}, int64_t{2048}, false);

  struct ConvCase { const char* name; int64_t c, o, hw, k, stride, pad; };
  const ConvCase convs[] = {
      {"conv1_7x7s2_3to64_224", 3, 64, 224, 7, 2, 3},
      {"3x3_64to64_56", 64, 64, 56, 3, 1, 1},
      {"1x1_256to64_56", 256, 64, 56, 1, 1, 0},
      {"3x3_128to128_28", 128, 128, 28, 3, 1, 1},
      {"3x3_256to256_14", 256, 256, 14, 3, 1, 1},
      {"3x3_512to512_7", 512, 512, 7, 3, 1, 1},
  };
  const std::pair<const char*, ConvDir> dirs[] = {
      {"fwd", ConvDir::forward}, {"bwd_input", ConvDir::backward_input}, {"bwd_weight", ConvDir::backward_weight}};
  std::vector<std::pair<const char*, cuda::ConvBackend>> backends = {{"implicit_gemm", cuda::ConvBackend::implicit_gemm}};
  if (cuda::cudnn_available()) backends.insert(backends.begin(), {"cudnn", cuda::ConvBackend::cudnn});
  for (const auto& [bname, backend] : backends)
    for (const auto& [dname, dir] : dirs)
      for (const auto& cv : convs)
        reg(std::string("Conv/") + bname + "/" + dname + "/" + cv.name, BM_Conv, dir, backend, cv.c, cv.o, cv.hw, cv.k,
            cv.stride, cv.pad);
  return true;
}();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (cuda_device_count() == 0) {
    std::fprintf(stderr, "sadanet_bench_cuda: no CUDA device\n");
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  const std::string choices = cuda::cudnn_conv_choices();
  if (!choices.empty()) std::fprintf(stderr, "cuDNN algorithm choices:\n%s", choices.c_str());
  return 0;
}
