// CUDA batch norm over x viewed as [N, C, S] (S = H*W, or 1 for [N, C]), with the CPU backend's
// formulas and rounding (src/cpu/batch_norm_cpu.cpp); statistics accumulate in double.
//
// Per-channel sums run as a split block reduction: block (c, s) sums segment s of channel c's
// N*S elements (walking n and s together, without a division per element) into a partial; a
// per-channel kernel combines the partials in order. Train mode makes two passes over x (the
// mean, then the squared deviations from it: no cancellation when |mean| >> std), finishes the
// statistics and running averages per channel, and writes y = (x - mean) * scale + shift in a
// last pass. Backward sums g and g * (x - mean) in one pass, then writes grad_x as one affine
// expression per channel.
#include <algorithm>
#include <cmath>

#include "cuda_common.cuh"

namespace sadanet::cuda {
namespace {

struct BnGeom {
  int64_t N, C, S;
  explicit BnGeom(const Tensor& x)
      : N(x.size(0)), C(x.size(1)), S(x.numel() / std::max<int64_t>(x.size(0) * x.size(1), 1)) {}
  int64_t count() const { return N * S; }
};

// ---- per-channel partial sums ------------------------------------------------------------------------

// Element q in [q0, q1) of channel c is x[(n * C + c) * S + s] with n = q / S, s = q % S.
// kSqDev: sum of (x - mean[c])^2, else sum of x.
template <class T, bool kSqDev>
__global__ void bn_sum_kernel(const T* __restrict__ x, int64_t N, int64_t C, int64_t S, int64_t seg, int splits,
                              const double* __restrict__ mean, double* __restrict__ partial) {
  __shared__ double smem[32];
  const int split = blockIdx.y;
  const int64_t M = N * S, q0 = split * seg, q1 = min(M, q0 + seg);
  const int64_t dn = blockDim.x / S, ds = blockDim.x % S;  // one stride of blockDim.x in (n, s)
  for (int64_t c = blockIdx.x; c < C; c += gridDim.x) {
    const double mu = kSqDev ? mean[c] : 0.0;
    double acc = 0;
    int64_t q = q0 + threadIdx.x, n = q / S, s = q % S;
    for (; q < q1; q += blockDim.x) {
      const double v = static_cast<double>(x[(n * C + c) * S + s]);
      if (kSqDev) {
        const double d = v - mu;
        acc += d * d;
      } else {
        acc += v;
      }
      n += dn;
      s += ds;
      if (s >= S) {
        s -= S;
        ++n;
      }
    }
    acc = block_sum(acc, smem);
    if (threadIdx.x == 0) partial[c * splits + split] = acc;
  }
}

// Backward: sum of g and of g * (x - mean[c]) (as the CPU: the T gradient times a double difference).
template <class T>
__global__ void bn_backward_sum_kernel(const T* __restrict__ gy, const T* __restrict__ x, int64_t N, int64_t C,
                                       int64_t S, int64_t seg, int splits, const T* __restrict__ mean,
                                       double* __restrict__ partial) {
  __shared__ double smem[32];
  const int split = blockIdx.y;
  const int64_t M = N * S, q0 = split * seg, q1 = min(M, q0 + seg);
  const int64_t dn = blockDim.x / S, ds = blockDim.x % S;
  for (int64_t c = blockIdx.x; c < C; c += gridDim.x) {
    const double mu = static_cast<double>(mean[c]);
    double acc_g = 0, acc_gx = 0;
    int64_t q = q0 + threadIdx.x, n = q / S, s = q % S;
    for (; q < q1; q += blockDim.x) {
      const int64_t k = (n * C + c) * S + s;
      const double g = static_cast<double>(gy[k]);
      acc_g += g;
      acc_gx += g * (static_cast<double>(x[k]) - mu);
      n += dn;
      s += ds;
      if (s >= S) {
        s -= S;
        ++n;
      }
    }
    acc_g = block_sum(acc_g, smem);
    acc_gx = block_sum(acc_gx, smem);
    if (threadIdx.x == 0) {
      partial[2 * (c * splits + split)] = acc_g;
      partial[2 * (c * splits + split) + 1] = acc_gx;
    }
  }
}

// ---- per-channel finishing ---------------------------------------------------------------------------

__global__ void bn_mean_kernel(const double* __restrict__ partial, int64_t C, int splits, double M,
                               double* __restrict__ mean) {
  SADANET_GRID_STRIDE(int64_t, c, C) {
    double s = 0;
    for (int k = 0; k < splits; ++k) s += partial[c * splits + k];
    mean[c] = s / M;
  }
}

// Statistics, running averages, and the coefficients [scale | mean | shift] of y = (x - mean) * scale + shift.
template <class T>
__global__ void bn_train_finish_kernel(const double* __restrict__ partial, int64_t C, int splits, double M,
                                       const double* __restrict__ mean, const T* __restrict__ weight,
                                       const T* __restrict__ bias, T* __restrict__ running_mean,
                                       T* __restrict__ running_var, double momentum, double eps,
                                       T* __restrict__ save_mean, T* __restrict__ save_invstd, T* __restrict__ coef) {
  SADANET_GRID_STRIDE(int64_t, c, C) {
    double sq = 0;
    for (int k = 0; k < splits; ++k) sq += partial[c * splits + k];
    const double mu = mean[c];
    const double var = sq / M;
    const double invstd = 1.0 / ::sqrt(var + eps);
    const double scale = (weight ? static_cast<double>(weight[c]) : 1.0) * invstd;
    save_mean[c] = static_cast<T>(mu);
    save_invstd[c] = static_cast<T>(invstd);
    if (running_mean) running_mean[c] = static_cast<T>((1 - momentum) * running_mean[c] + momentum * mu);
    if (running_var) running_var[c] = static_cast<T>((1 - momentum) * running_var[c] + momentum * var * M / (M - 1));
    coef[c] = static_cast<T>(scale);
    coef[C + c] = static_cast<T>(mu);
    coef[2 * C + c] = bias ? bias[c] : T(0);
  }
}

// Eval: [scale | running_mean | shift] from the running statistics.
template <class T>
__global__ void bn_eval_coef_kernel(int64_t C, const T* __restrict__ weight, const T* __restrict__ bias,
                                    const T* __restrict__ running_mean, const T* __restrict__ running_var, double eps,
                                    T* __restrict__ coef) {
  SADANET_GRID_STRIDE(int64_t, c, C) {
    const double scale = (weight ? static_cast<double>(weight[c]) : 1.0) / ::sqrt(static_cast<double>(running_var[c]) + eps);
    coef[c] = static_cast<T>(scale);
    coef[C + c] = running_mean[c];
    coef[2 * C + c] = bias ? bias[c] : T(0);
  }
}

// Backward: grad_bias, grad_weight and [k | a | b | mean] of grad_x = k*g + a*(x - mean) + b.
template <class T>
__global__ void bn_backward_finish_kernel(const double* __restrict__ partial, int64_t C, int splits, double M,
                                          bool have_sums, bool train, const T* __restrict__ weight,
                                          const T* __restrict__ mean, const T* __restrict__ invstd,
                                          T* __restrict__ grad_weight, T* __restrict__ grad_bias, T* __restrict__ coef) {
  SADANET_GRID_STRIDE(int64_t, c, C) {
    double sum_g = 0, sum_gxh = 0;
    if (have_sums)
      for (int k = 0; k < splits; ++k) {
        sum_g += partial[2 * (c * splits + k)];
        sum_gxh += partial[2 * (c * splits + k) + 1];
      }
    const double is = static_cast<double>(invstd[c]);
    sum_gxh *= is;
    if (grad_bias) grad_bias[c] = static_cast<T>(sum_g);
    if (grad_weight) grad_weight[c] = static_cast<T>(sum_gxh);
    const double k = (weight ? static_cast<double>(weight[c]) : 1.0) * is;
    const double a = train ? -k * is * sum_gxh / M : 0.0;
    const double b = train ? -k * sum_g / M : 0.0;
    coef[c] = static_cast<T>(k);
    coef[C + c] = static_cast<T>(a);
    coef[2 * C + c] = static_cast<T>(b);
    coef[3 * C + c] = mean[c];
  }
}

// ---- element-wise passes -----------------------------------------------------------------------------

// Forward: (x - mean) * scale + shift; backward: k*g + a*(x - mean) + b (the CPU's evaluation order).
template <class T, bool kBackward>
__device__ __forceinline__ T bn_elem(T x, T g, const T* __restrict__ coef, int64_t c, int64_t C) {
  if (kBackward) return coef[c] * g + coef[C + c] * (x - coef[3 * C + c]) + coef[2 * C + c];
  return (x - coef[C + c]) * coef[c] + coef[2 * C + c];
}

// One block per (n, c) plane of S elements (S large).
template <class T, bool kBackward>
__global__ void bn_apply_planes_kernel(const T* __restrict__ x, const T* __restrict__ g, int64_t planes, int64_t C,
                                       int64_t S, const T* __restrict__ coef, T* __restrict__ out) {
  for (int64_t pl = blockIdx.x; pl < planes; pl += gridDim.x) {
    const int64_t c = pl % C, base = pl * S;
    for (int64_t s = threadIdx.x; s < S; s += blockDim.x)
      out[base + s] = bn_elem<T, kBackward>(x[base + s], kBackward ? g[base + s] : T(0), coef, c, C);
  }
}

// Flat over all elements (S small).
template <class T, bool kBackward>
__global__ void bn_apply_flat_kernel(const T* __restrict__ x, const T* __restrict__ g, int64_t total, int64_t C,
                                     int64_t S, const T* __restrict__ coef, T* __restrict__ out) {
  SADANET_GRID_STRIDE(int64_t, q, total) {
    const int64_t c = (q / S) % C;
    out[q] = bn_elem<T, kBackward>(x[q], kBackward ? g[q] : T(0), coef, c, C);
  }
}

// ---- host side --------------------------------------------------------------------------------------

constexpr int64_t kPlaneMinS = 128;  // planes at least this long get a block each

struct Split {
  int64_t seg;
  int splits;
  dim3 grid;
};

// Segments of each channel's M elements so that C * splits blocks fill the GPU.
Split plan_split(int64_t C, int64_t M) {
  const int64_t cap = static_cast<int64_t>(sm_count()) * 16;
  const int64_t want = static_cast<int64_t>(sm_count()) * 4;
  const int64_t base = std::min(C, cap);
  int64_t splits = 1;
  if (base < want && M > 8192) splits = std::min(ceil_div(want, base), ceil_div(M, 8192));
  splits = std::clamp<int64_t>(splits, 1, 1024);
  Split s;
  s.seg = M > 0 ? ceil_div(M, splits) : 0;
  s.splits = M > 0 ? static_cast<int>(ceil_div(M, s.seg)) : 1;
  s.grid = dim3(static_cast<unsigned>(std::max<int64_t>(base, 1)), static_cast<unsigned>(s.splits));
  return s;
}

template <class T, bool kBackward>
void apply(const BnGeom& g, const T* x, const T* gy, const T* coef, T* out) {
  const int64_t total = g.N * g.C * g.S;
  if (total == 0) return;
  cudaStream_t stream = current_stream();
  if (g.S >= kPlaneMinS) {
    const int64_t planes = g.N * g.C;
    const unsigned grid = static_cast<unsigned>(std::min<int64_t>(planes, static_cast<int64_t>(sm_count()) * 16));
    SADANET_LAUNCH((grid, kThreads, 0, stream), bn_apply_planes_kernel<T, kBackward>)(x, gy, planes, g.C, g.S, coef, out);
  } else {
    SADANET_LAUNCH((grid_for(total), kThreads, 0, stream), bn_apply_flat_kernel<T, kBackward>)(x, gy, total, g.C, g.S, coef, out);
  }
}

template <class T> const T* opt(const Tensor& t) { return t.defined() ? static_cast<const T*>(t.raw_data()) : nullptr; }
template <class T> T* opt_mut(Tensor& t) { return t.defined() ? static_cast<T*>(t.raw_data()) : nullptr; }

void check_x(const char* kernel, const Tensor& x) {
  SADANET_CHECK((x.dim() == 2 || x.dim() == 4) && dense(x), kernel,
                ": expected a contiguous [N,C] or [N,C,H,W] x, got ", shape_str(x.shape()));
  check_on_cuda(kernel, x, "x");
}
void check_same(const char* kernel, const Tensor& x, const Tensor& t, const char* what) {
  SADANET_CHECK(t.shape() == x.shape() && t.dtype() == x.dtype() && dense(t), kernel, ": expected ", what,
                " contiguous, shaped like x ", shape_str(x.shape()), ", got ", shape_str(t.shape()));
  check_on_cuda(kernel, t, what);
}
// An optional per-channel vector: undefined, or [C] contiguous in x's dtype.
void check_vec(const char* kernel, const Tensor& x, const Tensor& t, const char* what, bool required = false) {
  if (!t.defined()) {
    SADANET_CHECK(!required, kernel, ": ", what, " is required");
    return;
  }
  SADANET_CHECK(t.numel() == x.size(1) && t.dtype() == x.dtype() && dense(t), kernel, ": expected ", what,
                " as a contiguous [", x.size(1), "] ", dtype_name(x.dtype()), " tensor, got ", shape_str(t.shape()));
  check_on_cuda(kernel, t, what);
}

template <class T>
void train(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean, Tensor& running_var,
           double momentum, double eps, Tensor& y, Tensor& save_mean, Tensor& save_invstd) {
  const BnGeom g(x);
  if (g.C == 0) return;
  const int dev = x.device().index;
  cudaStream_t stream = current_stream();
  const T* X = static_cast<const T*>(x.raw_data());
  const double M = static_cast<double>(g.count());
  const Split sp = plan_split(g.C, g.count());
  DeviceBuffer partial(sizeof(double) * g.C * sp.splits, dev), mean(sizeof(double) * g.C, dev),
      coef(sizeof(T) * 3 * g.C, dev);
  // No elements (N == 0 or S == 0): zero sums, so the statistics come out as the CPU's (NaN).
  auto sums = [&]<bool kSqDev>() {
    if (g.count() == 0) {
      SADANET_CUDA_CHECK(cudaMemsetAsync(partial.get(), 0, partial.size(), stream));
      return;
    }
    SADANET_LAUNCH((sp.grid, kThreads, 0, stream), bn_sum_kernel<T, kSqDev>)(X, g.N, g.C, g.S, sp.seg, sp.splits,
                                                                 kSqDev ? mean.as<double>() : nullptr,
                                                                 partial.as<double>());
  };
  sums.template operator()<false>();
  SADANET_LAUNCH((grid_for(g.C), kThreads, 0, stream), bn_mean_kernel)(partial.as<double>(), g.C, sp.splits, M, mean.as<double>());
  sums.template operator()<true>();
  SADANET_LAUNCH((grid_for(g.C), kThreads, 0, stream), bn_train_finish_kernel<T>)(
      partial.as<double>(), g.C, sp.splits, M, mean.as<double>(), opt<T>(weight), opt<T>(bias), opt_mut<T>(running_mean),
      opt_mut<T>(running_var), momentum, eps, static_cast<T*>(save_mean.raw_data()),
      static_cast<T*>(save_invstd.raw_data()), coef.as<T>());
  apply<T, false>(g, X, nullptr, coef.as<T>(), static_cast<T*>(y.raw_data()));
}

template <class T>
void eval(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
          const Tensor& running_var, double eps, Tensor& y) {
  const BnGeom g(x);
  if (g.C == 0 || x.numel() == 0) return;
  DeviceBuffer coef(sizeof(T) * 3 * g.C, x.device().index);
  SADANET_LAUNCH((grid_for(g.C), kThreads, 0, current_stream()), bn_eval_coef_kernel<T>)(
      g.C, opt<T>(weight), opt<T>(bias), static_cast<const T*>(running_mean.raw_data()),
      static_cast<const T*>(running_var.raw_data()), eps, coef.as<T>());
  apply<T, false>(g, static_cast<const T*>(x.raw_data()), nullptr, coef.as<T>(), static_cast<T*>(y.raw_data()));
}

template <class T>
void backward(const Tensor& gy, const Tensor& x, const Tensor& weight, const Tensor& mean, const Tensor& invstd,
              bool is_train, Tensor& gx, Tensor& gw, Tensor& gb) {
  const BnGeom g(x);
  if (g.C == 0) return;
  const int dev = x.device().index;
  cudaStream_t stream = current_stream();
  const T* GY = static_cast<const T*>(gy.raw_data());
  const T* X = static_cast<const T*>(x.raw_data());
  const T* MU = static_cast<const T*>(mean.raw_data());
  const bool have_sums = is_train || gw.defined() || gb.defined();
  const Split sp = plan_split(g.C, g.count());
  DeviceBuffer partial(have_sums ? sizeof(double) * 2 * g.C * sp.splits : 0, dev), coef(sizeof(T) * 4 * g.C, dev);
  if (have_sums && g.count() == 0) {
    SADANET_CUDA_CHECK(cudaMemsetAsync(partial.get(), 0, partial.size(), stream));
  } else if (have_sums) {
    SADANET_LAUNCH((sp.grid, kThreads, 0, stream), bn_backward_sum_kernel<T>)(GY, X, g.N, g.C, g.S, sp.seg, sp.splits, MU,
                                                                 partial.as<double>());
  }
  SADANET_LAUNCH((grid_for(g.C), kThreads, 0, stream), bn_backward_finish_kernel<T>)(
      partial.as<double>(), g.C, sp.splits, static_cast<double>(g.count()), have_sums, is_train, opt<T>(weight), MU,
      static_cast<const T*>(invstd.raw_data()), opt_mut<T>(gw), opt_mut<T>(gb), coef.as<T>());
  if (gx.defined()) apply<T, true>(g, X, GY, coef.as<T>(), static_cast<T*>(gx.raw_data()));
}

void train_cuda(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& rm, Tensor& rv, double momentum, double eps,
                Tensor& y, Tensor& sm, Tensor& si) {
  const char* k = "batch_norm_train";
  check_x(k, x);
  check_vec(k, x, w, "weight");
  check_vec(k, x, b, "bias");
  check_vec(k, x, rm, "running_mean");
  check_vec(k, x, rv, "running_var");
  check_same(k, x, y, "y");
  check_vec(k, x, sm, "save_mean", true);
  check_vec(k, x, si, "save_invstd", true);
  dispatch_floating(x.dtype(), k, [&]<class T>() {
    DeviceGuard guard(x.device());
    train<T>(x, w, b, rm, rv, momentum, eps, y, sm, si);
  });
}

void eval_cuda(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& rm, const Tensor& rv, double eps,
               Tensor& y) {
  const char* k = "batch_norm_eval";
  check_x(k, x);
  check_vec(k, x, w, "weight");
  check_vec(k, x, b, "bias");
  check_vec(k, x, rm, "running_mean", true);
  check_vec(k, x, rv, "running_var", true);
  check_same(k, x, y, "y");
  dispatch_floating(x.dtype(), k, [&]<class T>() {
    DeviceGuard guard(x.device());
    eval<T>(x, w, b, rm, rv, eps, y);
  });
}

void backward_cuda(const Tensor& gy, const Tensor& x, const Tensor& w, const Tensor& mean, const Tensor& invstd,
                   bool is_train, Tensor& gx, Tensor& gw, Tensor& gb) {
  const char* k = "batch_norm_backward";
  check_x(k, x);
  check_same(k, x, gy, "grad_y");
  if (gx.defined()) check_same(k, x, gx, "grad_x");
  check_vec(k, x, w, "weight");
  check_vec(k, x, mean, "mean", true);
  check_vec(k, x, invstd, "invstd", true);
  check_vec(k, x, gw, "grad_weight");
  check_vec(k, x, gb, "grad_bias");
  dispatch_floating(x.dtype(), k, [&]<class T>() {
    DeviceGuard guard(x.device());
    backward<T>(gy, x, w, mean, invstd, is_train, gx, gw, gb);
  });
}

}  // namespace
}  // namespace sadanet::cuda

namespace sadanet {
SADANET_REGISTER_KERNEL(batch_norm_train, DeviceType::cuda, &cuda::train_cuda);
SADANET_REGISTER_KERNEL(batch_norm_eval, DeviceType::cuda, &cuda::eval_cuda);
SADANET_REGISTER_KERNEL(batch_norm_backward, DeviceType::cuda, &cuda::backward_cuda);
}  // namespace sadanet
