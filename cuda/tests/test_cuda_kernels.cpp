// Kernel-level parity of the CUDA backend with the CPU backend: every slot called on both devices
// with the same inputs, at sizes that take the paths the op table's small cases never reach
// (split reductions, split batch-norm statistics, split-K weight gradients, rows longer than a
// block), plus bitwise checks where the CUDA kernels promise the CPU's bits (copies and
// conversions, fill, arange, random numbers, optimizer steps) and the bad-index errors.
// Suite name CudaKernels: labelled `cuda` by tests/CMakeLists.txt; skips without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "../cuda_config.h"
#include "../cuda_optim.h"
#include "cuda_gate.h"
#include "kernels/kernels.h"
#include "sadanet/sadanet.h"

namespace sadanet {
namespace {

const Device kGpu(DeviceType::cuda, 0);
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

#define REQUIRE_GPU() SADANET_REQUIRE_CUDA()

Tensor on_gpu(const Tensor& t) { return t.detach().to(kGpu); }
Tensor on_cpu(const Tensor& t) { return t.detach().to(kCPU).contiguous(); }
const DType kAllDtypes[] = {DType::f32, DType::f64, DType::bf16, DType::f16, DType::i32, DType::i64, DType::u8};
const DType kFloatDtypes[] = {DType::f32, DType::f64};

// Same dtype, shape and bytes (NaN payloads included).
::testing::AssertionResult bitwise(const Tensor& got, const Tensor& want) {
  const Tensor g = on_cpu(got), w = on_cpu(want);
  if (g.dtype() != w.dtype() || g.shape() != w.shape())
    return ::testing::AssertionFailure() << "got " << dtype_name(g.dtype()) << " " << shape_str(g.shape()) << ", want "
                                         << dtype_name(w.dtype()) << " " << shape_str(w.shape());
  const size_t es = dtype_size(g.dtype());
  const auto* a = static_cast<const unsigned char*>(g.raw_data());
  const auto* b = static_cast<const unsigned char*>(w.raw_data());
  for (int64_t i = 0; i < g.numel(); ++i)
    if (std::memcmp(a + i * es, b + i * es, es) != 0)
      return ::testing::AssertionFailure() << "element " << i << " differs: got " << g.reshape({-1}).select(0, i).item()
                                           << ", want " << w.reshape({-1}).select(0, i).item();
  return ::testing::AssertionSuccess();
}

// |got - want| <= atol + rtol * |want| element-wise; NaN matches NaN, inf matches inf.
::testing::AssertionResult close(const Tensor& got, const Tensor& want, double atol, double rtol) {
  const Tensor g = on_cpu(got), w = on_cpu(want);
  if (g.shape() != w.shape())
    return ::testing::AssertionFailure() << "shape " << shape_str(g.shape()) << " vs " << shape_str(w.shape());
  const auto gv = g.to_vector<double>(), wv = w.to_vector<double>();
  for (size_t i = 0; i < gv.size(); ++i) {
    const double a = gv[i], b = wv[i];
    if (std::isnan(a) || std::isnan(b)) {
      if (std::isnan(a) != std::isnan(b)) return ::testing::AssertionFailure() << "element " << i << ": " << a << " vs " << b;
      continue;
    }
    if (a == b) continue;
    if (!(std::abs(a - b) <= atol + rtol * std::abs(b)))
      return ::testing::AssertionFailure() << "element " << i << ": got " << a << ", want " << b << " (of "
                                           << gv.size() << ")";
  }
  return ::testing::AssertionSuccess();
}

Tensor cpu_randn(const Shape& s, DType t, uint64_t seed) {
  Generator gen(seed);
  return randn(s, TensorOptions(t), &gen);
}

// ---- copy, fill, arange, random: the CPU's bits -------------------------------------------------------

std::vector<double> special_values() {
  return {0.0, -0.0, 1.5, -2.5, 3.4999, 255.9, 256.5, -129.7, 65504.0, 65520.0, 1e10, -1e10, 3e38, 1e-8,
          1e-40, kInf, -kInf, kNaN, 0.1, 2.5, 3.5, 1e19, -1e19, 2147483648.5};
}

TEST(CudaKernels, CopyConvertsEveryDtypePairLikeCpu) {
  REQUIRE_GPU();
  NoGradGuard ng;
  const Tensor base = from_vector<double>(special_values(), {6, 4});
  for (DType s : kAllDtypes) {
    const Tensor src_cpu = base.to(s);
    const Tensor src_gpu = on_gpu(src_cpu);
    for (DType d : kAllDtypes) {
      SCOPED_TRACE(std::string(dtype_name(s)) + " -> " + dtype_name(d));
      // Strided source (a transpose) into a contiguous destination.
      Tensor want = empty({4, 6}, TensorOptions(d)), got = empty({4, 6}, TensorOptions(d, kGpu));
      kernels::copy().get(kCPU)(src_cpu.t(), want);
      kernels::copy().get(kGpu)(src_gpu.t(), got);
      EXPECT_TRUE(bitwise(got, want));
      // Contiguous source into a strided destination.
      Tensor want_base = zeros({4, 6}, TensorOptions(d)), got_base = zeros({4, 6}, TensorOptions(d, kGpu));
      Tensor want_view = want_base.t(), got_view = got_base.t();
      kernels::copy().get(kCPU)(src_cpu, want_view);
      kernels::copy().get(kGpu)(src_gpu, got_view);
      EXPECT_TRUE(bitwise(got_base, want_base));
    }
  }
}

TEST(CudaKernels, FillAndArangeLikeCpu) {
  REQUIRE_GPU();
  NoGradGuard ng;
  for (DType d : kAllDtypes) {
    SCOPED_TRACE(dtype_name(d));
    for (double v : {3.7, -1e10, kNaN, 0.0, 70000.0}) {
      Tensor want = zeros({5, 8}, TensorOptions(d)), got = zeros({5, 8}, TensorOptions(d, kGpu));
      Tensor wv = want.slice(1, 1, 8, 2), gv = got.slice(1, 1, 8, 2);  // strided
      kernels::fill().get(kCPU)(wv, v);
      kernels::fill().get(kGpu)(gv, v);
      EXPECT_TRUE(bitwise(got, want)) << "value " << v;
    }
    Tensor want = empty({1000}, TensorOptions(d)), got = empty({1000}, TensorOptions(d, kGpu));
    kernels::arange().get(kCPU)(want, -3.3, 0.1);
    kernels::arange().get(kGpu)(got, -3.3, 0.1);
    EXPECT_TRUE(bitwise(got, want));
  }
}

TEST(CudaKernels, RandomNumbersMatchCpu) {
  REQUIRE_GPU();
  const PhiloxCall call{0x1234567890abcdefULL, 77};
  const int64_t n = 100003;  // not a multiple of 4
  for (DType d : kFloatDtypes) {
    SCOPED_TRACE(dtype_name(d));
    Tensor want = empty({n}, TensorOptions(d)), got = empty({n}, TensorOptions(d, kGpu));
    kernels::random_uniform().get(kCPU)(want, call);
    kernels::random_uniform().get(kGpu)(got, call);
    EXPECT_TRUE(bitwise(got, want));
    kernels::random_normal().get(kCPU)(want, call);
    kernels::random_normal().get(kGpu)(got, call);
    if (d == DType::f32) {
      EXPECT_TRUE(bitwise(got, want));
    } else {  // device log/cos may differ from glibc's in the last f64 bit
      EXPECT_TRUE(close(got, want, 1e-15, 1e-14));
    }
  }
  Tensor want = empty({n}, TensorOptions(DType::i64)), got = empty({n}, TensorOptions(DType::i64, kGpu));
  kernels::random_bits().get(kCPU)(want, call);
  kernels::random_bits().get(kGpu)(got, call);
  EXPECT_TRUE(bitwise(got, want));
}

// ---- element-wise ---------------------------------------------------------------------------------

TEST(CudaKernels, ElementwiseStridedAndBroadcastMatchCpu) {
  REQUIRE_GPU();
  NoGradGuard ng;
  for (DType d : kFloatDtypes) {
    SCOPED_TRACE(dtype_name(d));
    const Tensor a = cpu_randn({5, 1, 7}, d, 1).expand({5, 6, 7});
    const Tensor b = cpu_randn({6, 5, 7}, d, 2).permute({1, 0, 2});
    const Tensor ag = on_gpu(cpu_randn({5, 1, 7}, d, 1)).expand({5, 6, 7});
    const Tensor bg = on_gpu(cpu_randn({6, 5, 7}, d, 2)).permute({1, 0, 2});
    for (BinaryOp op : {BinaryOp::add, BinaryOp::sub, BinaryOp::mul, BinaryOp::div, BinaryOp::maximum,
                        BinaryOp::minimum, BinaryOp::gt, BinaryOp::eq, BinaryOp::ge_mask, BinaryOp::relu_backward}) {
      Tensor want = empty({5, 6, 7}, TensorOptions(d)), got = empty({5, 6, 7}, TensorOptions(d, kGpu));
      kernels::binary().get(kCPU)(op, a, b, want);
      kernels::binary().get(kGpu)(op, ag, bg, got);
      EXPECT_TRUE(bitwise(got, want)) << "binary op " << static_cast<int>(op);
    }
    // Unary on a dense tensor at an odd offset (not 16-byte aligned: the scalar contiguous path)
    // and on a large aligned one (the float4 path), and on a transposed view (strided).
    const Tensor xs = abs(cpu_randn({4099}, d, 3)) + 0.25;
    const Tensor xg_full = on_gpu(xs);
    const Tensor x_cases[] = {xs.slice(0, 1, 4099), xs, xs.slice(0, 0, 4096).reshape({64, 64}).t()};
    const Tensor g_cases[] = {xg_full.slice(0, 1, 4099), xg_full, xg_full.slice(0, 0, 4096).reshape({64, 64}).t()};
    for (int c = 0; c < 3; ++c)
      for (int op = 0; op <= static_cast<int>(UnaryOp::lt_scalar); ++op) {
        const UnaryOp u = static_cast<UnaryOp>(op);
        for (double alpha : {2.0, 0.5, 1.7}) {
          Tensor want = empty(x_cases[c].shape(), TensorOptions(d)), got = empty(g_cases[c].shape(), TensorOptions(d, kGpu));
          kernels::unary().get(kCPU)(u, x_cases[c], want, alpha, 1.3);
          kernels::unary().get(kGpu)(u, g_cases[c], got, alpha, 1.3);
          // exp/log/pow come from different libms: a few ulp apart. affine (a*x + b) is compared
          // with a tolerance too, in case the CPU build contracts it into an FMA (-march=native).
          // Everything else bit for bit.
          const bool libm = u == UnaryOp::exp || u == UnaryOp::log || u == UnaryOp::affine ||
                            (u == UnaryOp::pow_scalar && alpha == 1.7);
          if (libm) {
            EXPECT_TRUE(close(got, want, 0, d == DType::f32 ? 1e-6 : 1e-15)) << "unary op " << op << " case " << c;
          } else {
            EXPECT_TRUE(bitwise(got, want)) << "unary op " << op << " alpha " << alpha << " case " << c;
          }
        }
      }
  }
  // Integer comparisons.
  const Tensor l = from_vector<int64_t>({1, 2, 3, 4, 5, 6}, {6});
  const Tensor r = from_vector<int64_t>({1, 3, 3, 0, 5, 9}, {6});
  for (BinaryOp op : {BinaryOp::gt, BinaryOp::eq}) {
    Tensor want = empty({6}, TensorOptions(DType::i64)), got = empty({6}, TensorOptions(DType::i64, kGpu));
    kernels::binary().get(kCPU)(op, l, r, want);
    kernels::binary().get(kGpu)(op, on_gpu(l), on_gpu(r), got);
    EXPECT_TRUE(bitwise(got, want));
  }
}

// ---- reductions, softmax --------------------------------------------------------------------------

struct View3 { int64_t outer, r, inner; };

TEST(CudaKernels, ReduceMatchesCpuOnEveryPath) {
  REQUIRE_GPU();
  NoGradGuard ng;
  // rows split across blocks, rows per block, warp rows, columns split, columns, r == 1, r == 0.
  const View3 views[] = {{1, 3000000, 1}, {3, 100000, 1}, {2000, 50, 1}, {3, 1500, 1},
                         {4, 70000, 3},   {2, 5000, 40},  {5, 1, 7},    {3, 0, 2}};
  for (DType d : kFloatDtypes)
    for (const View3& v : views) {
      SCOPED_TRACE(std::string(dtype_name(d)) + " " + std::to_string(v.outer) + "x" + std::to_string(v.r) + "x" +
                   std::to_string(v.inner));
      // Values on a coarse grid, so maxima tie and the first-index rule is exercised.
      Tensor x = v.r == 0 ? zeros({v.outer, 0, v.inner}, TensorOptions(d))
                          : (cpu_randn({v.outer, v.r, v.inner}, d, 11) * 4.0).to(DType::i64).to(d) * 0.25;
      if (v.r > 10 && v.outer > 1) {  // NaNs in row 1 (column 0): the first one wins
        x.select(0, 1).select(1, 0).slice(0, v.r / 3, v.r / 3 + 1).fill_(kNaN);
        x.select(0, 1).select(1, 0).slice(0, v.r / 2, v.r / 2 + 1).fill_(kNaN);
      }
      const Tensor xg = on_gpu(x);
      for (ReduceOp op : {ReduceOp::sum, ReduceOp::mean, ReduceOp::max, ReduceOp::var}) {
        if (op == ReduceOp::max && v.r == 0) continue;
        Tensor want = empty({v.outer, v.inner}, TensorOptions(d)), got = empty({v.outer, v.inner}, TensorOptions(d, kGpu));
        Tensor wi, gi;
        if (op == ReduceOp::max) {
          wi = empty({v.outer, v.inner}, TensorOptions(DType::i64));
          gi = empty({v.outer, v.inner}, TensorOptions(DType::i64, kGpu));
        }
        kernels::reduce().get(kCPU)(op, x, v.outer, v.r, v.inner, want, wi, 1);
        kernels::reduce().get(kGpu)(op, xg, v.outer, v.r, v.inner, got, gi, 1);
        const double tol = d == DType::f32 ? 1e-6 : 1e-12;
        EXPECT_TRUE(close(got, want, tol, tol)) << "op " << static_cast<int>(op);
        if (op == ReduceOp::max) {
          EXPECT_TRUE(bitwise(gi, wi)) << "argmax indices";
        }
      }
    }
}

TEST(CudaKernels, SoftmaxMatchesCpu) {
  REQUIRE_GPU();
  NoGradGuard ng;
  const View3 views[] = {{1000, 3000, 1}, {64, 10, 1}, {4, 37, 129}, {2, 1, 5}};
  for (DType d : kFloatDtypes)
    for (const View3& v : views)
      for (bool log : {false, true}) {
        SCOPED_TRACE(std::string(dtype_name(d)) + (log ? " log " : " ") + std::to_string(v.outer) + "x" +
                     std::to_string(v.r) + "x" + std::to_string(v.inner));
        const Tensor x = cpu_randn({v.outer, v.r, v.inner}, d, 5) * 3.0, g = cpu_randn({v.outer, v.r, v.inner}, d, 6);
        const Tensor xg = on_gpu(x), gg = on_gpu(g);
        Tensor want = empty(x.shape(), TensorOptions(d)), got = empty(x.shape(), TensorOptions(d, kGpu));
        kernels::softmax_forward().get(kCPU)(x, v.outer, v.r, v.inner, log, want);
        kernels::softmax_forward().get(kGpu)(xg, v.outer, v.r, v.inner, log, got);
        const double tol = d == DType::f32 ? 1e-6 : 1e-13;
        EXPECT_TRUE(close(got, want, tol, 1e-5)) << "forward";
        Tensor gwant = empty(x.shape(), TensorOptions(d)), ggot = empty(x.shape(), TensorOptions(d, kGpu));
        kernels::softmax_backward().get(kCPU)(g, want, v.outer, v.r, v.inner, log, gwant);
        kernels::softmax_backward().get(kGpu)(gg, on_gpu(want), v.outer, v.r, v.inner, log, ggot);
        EXPECT_TRUE(close(ggot, gwant, tol, 1e-5)) << "backward";
      }
}

// ---- batch norm -------------------------------------------------------------------------------------

TEST(CudaKernels, BatchNormMatchesCpu) {
  REQUIRE_GPU();
  NoGradGuard ng;
  const Shape shapes[] = {{8, 4, 64, 64}, {64, 16}, {2, 3, 5, 5}, {3, 2, 12, 12}};
  for (DType d : kFloatDtypes)
    for (const Shape& s : shapes)
      for (bool affine : {true, false}) {
        SCOPED_TRACE(std::string(dtype_name(d)) + " " + shape_str(s) + (affine ? " affine" : ""));
        const int64_t C = s[1];
        const double tol = d == DType::f32 ? 2e-5 : 1e-11;
        const Tensor x = cpu_randn(s, d, 21) * 2.0 + 5.0, gy = cpu_randn(s, d, 22);
        const Tensor w = affine ? cpu_randn({C}, d, 23) : Tensor(), b = affine ? cpu_randn({C}, d, 24) : Tensor();
        Tensor rm = cpu_randn({C}, d, 25), rv = abs(cpu_randn({C}, d, 26)) + 0.5;
        Tensor rm_g = on_gpu(rm), rv_g = on_gpu(rv);
        const Tensor xg = on_gpu(x), gyg = on_gpu(gy);
        const Tensor wg = affine ? on_gpu(w) : Tensor(), bg = affine ? on_gpu(b) : Tensor();
        const TensorOptions oc(d), og(d, kGpu);
        Tensor y = empty(s, oc), yg = empty(s, og), sm = empty({C}, oc), smg = empty({C}, og), si = empty({C}, oc),
               sig = empty({C}, og);
        kernels::batch_norm_train().get(kCPU)(x, w, b, rm, rv, 0.1, 1e-5, y, sm, si);
        kernels::batch_norm_train().get(kGpu)(xg, wg, bg, rm_g, rv_g, 0.1, 1e-5, yg, smg, sig);
        EXPECT_TRUE(close(yg, y, tol, tol)) << "train y";
        EXPECT_TRUE(close(smg, sm, tol, tol)) << "save_mean";
        EXPECT_TRUE(close(sig, si, tol, tol)) << "save_invstd";
        EXPECT_TRUE(close(rm_g, rm, tol, tol)) << "running_mean";
        EXPECT_TRUE(close(rv_g, rv, tol, tol)) << "running_var";
        Tensor ye = empty(s, oc), yeg = empty(s, og);
        kernels::batch_norm_eval().get(kCPU)(x, w, b, rm, rv, 1e-5, ye);
        kernels::batch_norm_eval().get(kGpu)(xg, wg, bg, rm_g, rv_g, 1e-5, yeg);
        EXPECT_TRUE(close(yeg, ye, tol, tol)) << "eval y";
        for (bool train : {true, false}) {
          Tensor gx = empty(s, oc), gxg = empty(s, og);
          Tensor gw = affine ? empty({C}, oc) : Tensor(), gwg = affine ? empty({C}, og) : Tensor();
          Tensor gb = affine ? empty({C}, oc) : Tensor(), gbg = affine ? empty({C}, og) : Tensor();
          kernels::batch_norm_backward().get(kCPU)(gy, x, w, sm, si, train, gx, gw, gb);
          kernels::batch_norm_backward().get(kGpu)(gyg, xg, wg, on_gpu(sm), on_gpu(si), train, gxg, gwg, gbg);
          EXPECT_TRUE(close(gxg, gx, tol, 1e-4)) << "grad_x train=" << train;
          if (affine) {
            EXPECT_TRUE(close(gwg, gw, tol, 1e-5)) << "grad_weight train=" << train;
            EXPECT_TRUE(close(gbg, gb, tol, 1e-5)) << "grad_bias train=" << train;
          }
        }
      }
}

// ---- convolution, GEMM ------------------------------------------------------------------------------

struct ConvCase { int64_t n, c, h, w, o, k, stride, pad, dil; bool bias; };

TEST(CudaKernels, ConvolutionMatchesCpuOnBothBackends) {
  REQUIRE_GPU();
  NoGradGuard ng;
  const ConvCase cases[] = {
      {2, 3, 17, 19, 5, 3, 1, 1, 1, true}, {2, 4, 16, 16, 6, 3, 2, 1, 1, false}, {3, 5, 9, 9, 4, 1, 1, 0, 1, true},
      {2, 3, 20, 20, 4, 3, 2, 2, 2, false}, {4, 8, 32, 32, 16, 3, 1, 1, 1, true},  // split-K weight gradient
      {1, 2, 7, 7, 3, 7, 1, 3, 1, true},    {2, 70, 9, 9, 80, 3, 1, 1, 1, false},   // tiles with ragged edges
  };
  std::vector<cuda::ConvBackend> backends{cuda::ConvBackend::implicit_gemm};
  if (cuda::cudnn_available()) backends.push_back(cuda::ConvBackend::cudnn);
  const cuda::ConvBackend before = cuda::conv_backend();
  for (cuda::ConvBackend be : backends)
    for (DType d : kFloatDtypes)
      for (const ConvCase& cc : cases) {
        SCOPED_TRACE(std::string(be == cuda::ConvBackend::cudnn ? "cudnn " : "implicit_gemm ") + dtype_name(d) + " c" +
                     std::to_string(cc.c) + " o" + std::to_string(cc.o) + " k" + std::to_string(cc.k) + " s" +
                     std::to_string(cc.stride) + " p" + std::to_string(cc.pad) + " d" + std::to_string(cc.dil));
        cuda::set_conv_backend(be);
        Conv2dParams p{cc.stride, cc.stride, cc.pad, cc.pad, cc.dil, cc.dil};
        const int64_t ho = (cc.h + 2 * cc.pad - cc.dil * (cc.k - 1) - 1) / cc.stride + 1;
        const int64_t wo = (cc.w + 2 * cc.pad - cc.dil * (cc.k - 1) - 1) / cc.stride + 1;
        const Tensor x = cpu_randn({cc.n, cc.c, cc.h, cc.w}, d, 31), w = cpu_randn({cc.o, cc.c, cc.k, cc.k}, d, 32);
        const Tensor b = cc.bias ? cpu_randn({cc.o}, d, 33) : Tensor(), gy = cpu_randn({cc.n, cc.o, ho, wo}, d, 34);
        const double atol = d == DType::f32 ? 1e-4 : 1e-10, rtol = d == DType::f32 ? 1e-4 : 1e-10;
        Tensor y = empty({cc.n, cc.o, ho, wo}, TensorOptions(d)), yg = empty(y.shape(), TensorOptions(d, kGpu));
        kernels::conv2d_forward().get(kCPU)(x, w, b, p, y);
        kernels::conv2d_forward().get(kGpu)(on_gpu(x), on_gpu(w), cc.bias ? on_gpu(b) : Tensor(), p, yg);
        EXPECT_TRUE(close(yg, y, atol, rtol)) << "forward";
        Tensor gx = empty(x.shape(), TensorOptions(d)), gxg = empty(x.shape(), TensorOptions(d, kGpu));
        kernels::conv2d_backward_input().get(kCPU)(gy, w, p, gx);
        kernels::conv2d_backward_input().get(kGpu)(on_gpu(gy), on_gpu(w), p, gxg);
        EXPECT_TRUE(close(gxg, gx, atol, rtol)) << "backward input";
        Tensor gw = empty(w.shape(), TensorOptions(d)), gwg = empty(w.shape(), TensorOptions(d, kGpu));
        kernels::conv2d_backward_weight().get(kCPU)(gy, x, p, gw);
        kernels::conv2d_backward_weight().get(kGpu)(on_gpu(gy), on_gpu(x), p, gwg);
        EXPECT_TRUE(close(gwg, gw, atol * 10, rtol)) << "backward weight";
      }
  cuda::set_conv_backend(before);
}

TEST(CudaKernels, GemmLayoutsMatchCpu) {
  REQUIRE_GPU();
  NoGradGuard ng;
  for (DType d : kFloatDtypes)
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (int64_t k : {29, 0}) {
          SCOPED_TRACE(std::string(dtype_name(d)) + " ta=" + std::to_string(ta) + " tb=" + std::to_string(tb) +
                       " k=" + std::to_string(k));
          const int64_t batch = 3, m = 37, n = 53;
          GemmArgs g;
          g.batch = batch; g.m = m; g.n = n; g.k = k;
          g.trans_a = ta; g.trans_b = tb;
          g.lda = ta ? m : k; g.ldb = tb ? k : n; g.ldc = n;
          g.stride_a = m * k; g.stride_b = 0;  // B broadcast over the batch
          g.stride_c = m * n;
          g.alpha = 2.0; g.beta = 0.5;
          const Tensor a = cpu_randn({batch * m * k}, d, 41), b = cpu_randn({k * n}, d, 42);
          Tensor c = cpu_randn({batch * m * n}, d, 43);
          Tensor cg = on_gpu(c);
          kernels::gemm().get(kCPU)(g, a, b, c);
          kernels::gemm().get(kGpu)(g, on_gpu(a), on_gpu(b), cg);
          EXPECT_TRUE(close(cg, c, d == DType::f32 ? 1e-5 : 1e-12, 1e-5));
        }
}

// ---- indexing, loss, pooling --------------------------------------------------------------------------

TEST(CudaKernels, IndexingMatchesCpuAndRejectsBadIndices) {
  REQUIRE_GPU();
  NoGradGuard ng;
  const Tensor x = cpu_randn({3, 5, 4}, DType::f32, 51);
  const Tensor idx = from_vector<int64_t>({4, 0, 0, 2, 4, 4}, {6});  // repeats: index_add accumulates
  Tensor want = empty({3, 6, 4}, TensorOptions(DType::f32)), got = empty({3, 6, 4}, TensorOptions(DType::f32, kGpu));
  kernels::index_select().get(kCPU)(x, 3, 5, 4, idx, want);
  kernels::index_select().get(kGpu)(on_gpu(x), 3, 5, 4, on_gpu(idx), got);
  EXPECT_TRUE(bitwise(got, want));
  const Tensor g = cpu_randn({3, 6, 4}, DType::f32, 52);
  Tensor gx = zeros({3, 5, 4}, TensorOptions(DType::f32)), gxg = zeros({3, 5, 4}, TensorOptions(DType::f32, kGpu));
  kernels::index_add().get(kCPU)(g, 3, 5, 4, idx, gx);
  kernels::index_add().get(kGpu)(on_gpu(g), 3, 5, 4, on_gpu(idx), gxg);
  EXPECT_TRUE(close(gxg, gx, 1e-6, 1e-6));

  std::vector<int64_t> gv(3 * 7 * 4);
  for (size_t i = 0; i < gv.size(); ++i) gv[i] = static_cast<int64_t>((i * 7 + 3) % 5);
  const Tensor gidx = from_vector<int64_t>(gv, {3, 7, 4});
  Tensor gwant = empty({3, 7, 4}, TensorOptions(DType::f32)), ggot = empty({3, 7, 4}, TensorOptions(DType::f32, kGpu));
  kernels::gather().get(kCPU)(x, gidx, 3, 5, 7, 4, gwant);
  kernels::gather().get(kGpu)(on_gpu(x), on_gpu(gidx), 3, 5, 7, 4, ggot);
  EXPECT_TRUE(bitwise(ggot, gwant));
  const Tensor sg = cpu_randn({3, 7, 4}, DType::f32, 54);
  Tensor sx = zeros({3, 5, 4}, TensorOptions(DType::f32)), sxg = zeros({3, 5, 4}, TensorOptions(DType::f32, kGpu));
  kernels::scatter_add().get(kCPU)(sg, gidx, 3, 5, 7, 4, sx);
  kernels::scatter_add().get(kGpu)(on_gpu(sg), on_gpu(gidx), 3, 5, 7, 4, sxg);
  EXPECT_TRUE(close(sxg, sx, 1e-6, 1e-6));

  // Bad indices: an Error naming the kernel, the index and its position; the GPU stays usable.
  auto expect_error = [](const std::function<void()>& fn, const std::string& needle) {
    try {
      fn();
      ADD_FAILURE() << "expected an error containing '" << needle << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  const Tensor bad = on_gpu(from_vector<int64_t>({0, 5, -1}, {3}));
  expect_error([&] {
    Tensor out = empty({3, 3, 4}, TensorOptions(DType::f32, kGpu));
    kernels::index_select().get(kGpu)(on_gpu(x), 3, 5, 4, bad, out);
  }, "index_select: index 5 (at position 1)");
  expect_error([&] {
    Tensor gxb = zeros({3, 5, 4}, TensorOptions(DType::f32, kGpu));
    kernels::index_add().get(kGpu)(on_gpu(cpu_randn({3, 3, 4}, DType::f32, 55)), 3, 5, 4, bad, gxb);
  }, "index_add: index 5 (at position 1)");
  std::vector<int64_t> gbad = gv;
  gbad[9] = 17;
  gbad[20] = -3;
  expect_error([&] {
    Tensor out = empty({3, 7, 4}, TensorOptions(DType::f32, kGpu));
    kernels::gather().get(kGpu)(on_gpu(x), on_gpu(from_vector<int64_t>(gbad, {3, 7, 4})), 3, 5, 7, 4, out);
  }, "gather: index 17 (at position 9)");
  expect_error([&] {
    Tensor out = zeros({3, 5, 4}, TensorOptions(DType::f32, kGpu));
    kernels::scatter_add().get(kGpu)(on_gpu(sg), on_gpu(from_vector<int64_t>(gbad, {3, 7, 4})), 3, 5, 7, 4, out);
  }, "scatter_add: index 17 (at position 9)");
  Tensor after = empty({3, 6, 4}, TensorOptions(DType::f32, kGpu));
  kernels::index_select().get(kGpu)(on_gpu(x), 3, 5, 4, on_gpu(idx), after);
  EXPECT_TRUE(bitwise(after, want)) << "after the errors";
}

TEST(CudaKernels, NllMatchesCpu) {
  REQUIRE_GPU();
  NoGradGuard ng;
  for (DType d : kFloatDtypes)
    for (bool weighted : {false, true}) {
      SCOPED_TRACE(std::string(dtype_name(d)) + (weighted ? " weighted" : ""));
      const int64_t n = 6, c = 5, inner = 3;
      const Tensor logp = cpu_randn({n, c, inner}, d, 61);
      const Tensor target = from_vector<int64_t>({0, 4, -100, 2, 2, 3, 1, -100, 0, 4, 4, 1, 3, 2, 0, -100, 1, 1}, {n, inner});
      const Tensor w = weighted ? abs(cpu_randn({c}, d, 62)) : Tensor();
      const Tensor wg = weighted ? on_gpu(w) : Tensor();
      Tensor loss = empty({n, inner}, TensorOptions(d)), lossg = empty({n, inner}, TensorOptions(d, kGpu));
      Tensor ws = empty({1}, TensorOptions(d)), wsg = empty({1}, TensorOptions(d, kGpu));
      kernels::nll_forward().get(kCPU)(logp, target, w, n, c, inner, -100, loss, ws);
      kernels::nll_forward().get(kGpu)(on_gpu(logp), on_gpu(target), wg, n, c, inner, -100, lossg, wsg);
      EXPECT_TRUE(bitwise(lossg, loss));
      EXPECT_TRUE(close(wsg, ws, 1e-6, 1e-6));
      const Tensor gl = cpu_randn({n, inner}, d, 63);
      Tensor gx = zeros({n, c, inner}, TensorOptions(d)), gxg = zeros({n, c, inner}, TensorOptions(d, kGpu));
      kernels::nll_backward().get(kCPU)(gl, target, w, n, c, inner, -100, gx);
      kernels::nll_backward().get(kGpu)(on_gpu(gl), on_gpu(target), wg, n, c, inner, -100, gxg);
      EXPECT_TRUE(bitwise(gxg, gx));
    }
  const Tensor bad = on_gpu(from_vector<int64_t>({0, 7, 1}, {3, 1}));
  Tensor loss = empty({3, 1}, TensorOptions(kGpu)), ws = empty({1}, TensorOptions(kGpu));
  try {
    kernels::nll_forward().get(kGpu)(on_gpu(cpu_randn({3, 4, 1}, DType::f32, 64)), bad, Tensor(), 3, 4, 1, -100, loss, ws);
    ADD_FAILURE() << "expected an error for target 7";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("target 7 at position 1"), std::string::npos) << e.what();
  }
}

TEST(CudaKernels, MaxPoolMatchesCpu) {
  REQUIRE_GPU();
  NoGradGuard ng;
  for (DType d : kFloatDtypes) {
    SCOPED_TRACE(dtype_name(d));
    Tensor x = (cpu_randn({2, 3, 9, 11}, d, 71) * 2.0).to(DType::i64).to(d);  // ties
    x.select(0, 1).select(0, 2).select(0, 4).slice(0, 3, 4).fill_(kNaN);
    const Pool2dParams p = Pool2dParams::make(3, 2, 1);  // overlapping windows
    const int64_t ho = (9 + 2 - 3) / 2 + 1, wo = (11 + 2 - 3) / 2 + 1;
    Tensor y = empty({2, 3, ho, wo}, TensorOptions(d)), yg = empty(y.shape(), TensorOptions(d, kGpu));
    Tensor i = empty(y.shape(), TensorOptions(DType::i64)), ig = empty(y.shape(), TensorOptions(DType::i64, kGpu));
    kernels::max_pool2d_forward().get(kCPU)(x, p, y, i);
    kernels::max_pool2d_forward().get(kGpu)(on_gpu(x), p, yg, ig);
    EXPECT_TRUE(bitwise(yg, y));
    EXPECT_TRUE(bitwise(ig, i));
    const Tensor gy = cpu_randn(y.shape(), d, 72);
    Tensor gx = zeros(x.shape(), TensorOptions(d)), gxg = zeros(x.shape(), TensorOptions(d, kGpu));
    kernels::max_pool2d_backward().get(kCPU)(gy, i, gx);
    kernels::max_pool2d_backward().get(kGpu)(on_gpu(gy), ig, gxg);
    EXPECT_TRUE(close(gxg, gx, 1e-6, 1e-6));
  }
}

// ---- optimizers: the CPU's bits ------------------------------------------------------------------------

TEST(CudaKernels, OptimizerStepsMatchCpuBitwise) {
  REQUIRE_GPU();
  NoGradGuard ng;
  for (DType d : kFloatDtypes)
    for (bool decoupled : {false, true}) {
      SCOPED_TRACE(std::string(dtype_name(d)) + (decoupled ? " adamw" : " adam"));
      Tensor p = cpu_randn({1000}, d, 81), m = zeros({1000}, TensorOptions(d)), v = zeros({1000}, TensorOptions(d));
      Tensor pg = on_gpu(p), mg = on_gpu(m), vg = on_gpu(v);
      for (int64_t step = 1; step <= 3; ++step) {
        const Tensor g = cpu_randn({1000}, d, 82 + step);
        const kernels::AdamArgs a{1e-3, 0.9, 0.999, 1e-8, 0.01, decoupled, step};
        kernels::adam_step().get(kCPU)(p, g, m, v, a);
        kernels::adam_step().get(kGpu)(pg, on_gpu(g), mg, vg, a);
      }
      EXPECT_TRUE(bitwise(pg, p));
      EXPECT_TRUE(bitwise(mg, m));
      EXPECT_TRUE(bitwise(vg, v));
    }
  // Multi-tensor Adam = per-tensor Adam, bit for bit, across chunk boundaries and per-entry steps.
  for (DType d : kFloatDtypes) {
    SCOPED_TRACE(std::string("multi-tensor ") + dtype_name(d));
    std::vector<cuda::AdamParamRef> fused, single;
    const int64_t sizes[] = {1, 17, 16384, 16385, 40000, 0};
    for (size_t i = 0; i < std::size(sizes); ++i) {
      const int64_t n = sizes[i];
      const Tensor p = cpu_randn({n}, d, 90 + i), g = cpu_randn({n}, d, 100 + i), m = cpu_randn({n}, d, 110 + i) * 0.1;
      const Tensor v = abs(cpu_randn({n}, d, 120 + i)) * 0.01;
      const int64_t step = 1 + static_cast<int64_t>(i % 3);
      fused.push_back({on_gpu(p), on_gpu(g), on_gpu(m), on_gpu(v), step});
      single.push_back({on_gpu(p), on_gpu(g), on_gpu(m), on_gpu(v), step});
    }
    const kernels::AdamArgs hyper{3e-4, 0.9, 0.99, 1e-6, 0.05, false, 0};
    cuda::adam_multi_tensor(fused, hyper);
    for (auto& r : single) {
      kernels::AdamArgs a = hyper;
      a.step = r.step;
      kernels::adam_step().get(kGpu)(r.param, r.grad, r.exp_avg, r.exp_avg_sq, a);
    }
    for (size_t i = 0; i < fused.size(); ++i) {
      EXPECT_TRUE(bitwise(fused[i].param, single[i].param)) << "entry " << i;
      EXPECT_TRUE(bitwise(fused[i].exp_avg, single[i].exp_avg)) << "entry " << i;
      EXPECT_TRUE(bitwise(fused[i].exp_avg_sq, single[i].exp_avg_sq)) << "entry " << i;
    }
  }
  for (DType d : kFloatDtypes)
    for (bool nesterov : {false, true})
      for (double momentum : {0.0, 0.9}) {
        SCOPED_TRACE(std::string("sgd ") + dtype_name(d));
        Tensor p = cpu_randn({777}, d, 131), buf = zeros({777}, TensorOptions(d));
        Tensor pg = on_gpu(p), bufg = on_gpu(buf);
        for (int step = 0; step < 3; ++step) {
          const Tensor g = cpu_randn({777}, d, 132 + step);
          const kernels::SgdArgs a{0.1, momentum, 0.1, 1e-4, nesterov && momentum != 0.0, step == 0};
          kernels::sgd_step().get(kCPU)(p, g, buf, a);
          kernels::sgd_step().get(kGpu)(pg, on_gpu(g), bufg, a);
        }
        EXPECT_TRUE(bitwise(pg, p));
        if (momentum != 0.0) {
          EXPECT_TRUE(bitwise(bufg, buf));
        }
      }
}

}  // namespace
}  // namespace sadanet
