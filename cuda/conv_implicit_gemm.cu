// Hand-written implicit-GEMM convolution (NCHW, groups 1), f32 and f64: each direction is one
// GEMM whose operands are read straight from the tensors (no im2col buffer):
//   forward         y[n,o,p]   = sum_{c,i,j} w[o,c,i,j] * x[n,c,ih,iw]        M=O, N=Nb*Ho*Wo, K=C*kh*kw
//   backward input  gx[n,c,q]  = sum_{o,i,j} w[o,c,i,j] * gy[n,o,oh,ow]       M=C, N=Nb*H*W,   K=O*kh*kw
//                   (oh, ow such that oh*sh - ph + i*dh = h, likewise w; zero where none)
//   backward weight gw[o,c,i,j] = sum_{n,oh,ow} gy[n,o,oh,ow] * x[n,c,ih,iw]  M=O, N=C*kh*kw, K=Nb*Ho*Wo
// with ih = oh*sh - ph + i*dh, iw = ow*sw - pw + j*dw (zero outside the input).
//
// One tiled kernel serves all three: 64x64 output tiles per 256-thread block, K in steps of 16
// staged through shared memory, 4x4 outputs per thread accumulated with fma. A Problem type
// says how to fetch A(m, k) and B(k, n) and where C(m, n) goes. Backward weight has a long K and
// few output tiles, so K is split across blocks (blockIdx.z); each split writes its own partial
// GW and a second kernel sums them in order (deterministic, no atomics).
// Index decoding is 32-bit (M, N, K < 2^31, checked); element offsets are 64-bit.
#include <algorithm>
#include <climits>

#include "conv_cuda.h"
#include "cuda_common.cuh"

namespace sadanet::cuda {
namespace {

constexpr int kBM = 64, kBN = 64, kBK = 16, kConvThreads = 256;

__device__ __forceinline__ float d_fma(float a, float b, float c) { return fmaf(a, b, c); }
__device__ __forceinline__ double d_fma(double a, double b, double c) { return fma(a, b, c); }

// Convolution geometry shared by the problems (ints: every dimension is far below 2^31).
struct Geom {
  int Nb, C, H, W, O, kh, kw, Ho, Wo, sh, sw, ph, pw, dh, dw;
};

template <class T> struct ForwardProblem {
  const T* x;
  const T* w;
  const T* bias;  // may be null
  T* y;
  Geom g;
  int M, N, K;  // O, Nb*Ho*Wo, C*kh*kw
  __device__ __forceinline__ T a(int m, int k) const { return w[static_cast<int64_t>(m) * K + k]; }
  __device__ __forceinline__ T b(int k, int n) const {
    const int khw = g.kh * g.kw, c = k / khw, r = k - c * khw, i = r / g.kw, j = r - i * g.kw;
    const int howo = g.Ho * g.Wo, nb = n / howo, pix = n - nb * howo, oh = pix / g.Wo, ow = pix - oh * g.Wo;
    const int ih = oh * g.sh - g.ph + i * g.dh, iw = ow * g.sw - g.pw + j * g.dw;
    if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) return T(0);
    return x[((static_cast<int64_t>(nb) * g.C + c) * g.H + ih) * g.W + iw];
  }
  __device__ __forceinline__ void store(int, int m, int n, T v) const {
    const int howo = g.Ho * g.Wo, nb = n / howo, pix = n - nb * howo;
    y[(static_cast<int64_t>(nb) * g.O + m) * howo + pix] = bias ? v + bias[m] : v;
  }
};

template <class T> struct BackwardInputProblem {
  const T* gy;
  const T* w;
  T* gx;
  Geom g;
  int M, N, K;  // C, Nb*H*W, O*kh*kw
  __device__ __forceinline__ T a(int m, int k) const {
    const int khw = g.kh * g.kw, o = k / khw, r = k - o * khw;
    return w[(static_cast<int64_t>(o) * g.C + m) * khw + r];
  }
  __device__ __forceinline__ T b(int k, int n) const {
    const int khw = g.kh * g.kw, o = k / khw, r = k - o * khw, i = r / g.kw, j = r - i * g.kw;
    const int hw = g.H * g.W, nb = n / hw, pix = n - nb * hw, h = pix / g.W, wq = pix - h * g.W;
    const int th = h + g.ph - i * g.dh, tw = wq + g.pw - j * g.dw;  // = oh*sh, ow*sw
    if (th < 0 || tw < 0 || th % g.sh != 0 || tw % g.sw != 0) return T(0);
    const int oh = th / g.sh, ow = tw / g.sw;
    if (oh >= g.Ho || ow >= g.Wo) return T(0);
    return gy[((static_cast<int64_t>(nb) * g.O + o) * g.Ho + oh) * g.Wo + ow];
  }
  __device__ __forceinline__ void store(int, int m, int n, T v) const {
    const int hw = g.H * g.W, nb = n / hw, pix = n - nb * hw;
    gx[(static_cast<int64_t>(nb) * g.C + m) * hw + pix] = v;
  }
};

template <class T> struct BackwardWeightProblem {
  const T* gy;
  const T* x;
  T* out;  // gw itself (one split) or the partial buffer [splits, M, N]
  Geom g;
  int M, N, K;  // O, C*kh*kw, Nb*Ho*Wo
  __device__ __forceinline__ T a(int m, int k) const {
    const int howo = g.Ho * g.Wo, nb = k / howo, pix = k - nb * howo;
    return gy[(static_cast<int64_t>(nb) * g.O + m) * howo + pix];
  }
  __device__ __forceinline__ T b(int k, int n) const {
    const int khw = g.kh * g.kw, c = n / khw, r = n - c * khw, i = r / g.kw, j = r - i * g.kw;
    const int howo = g.Ho * g.Wo, nb = k / howo, pix = k - nb * howo, oh = pix / g.Wo, ow = pix - oh * g.Wo;
    const int ih = oh * g.sh - g.ph + i * g.dh, iw = ow * g.sw - g.pw + j * g.dw;
    if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) return T(0);
    return x[((static_cast<int64_t>(nb) * g.C + c) * g.H + ih) * g.W + iw];
  }
  __device__ __forceinline__ void store(int split, int m, int n, T v) const {
    out[static_cast<int64_t>(split) * M * N + static_cast<int64_t>(m) * N + n] = v;
  }
};

// C(m, n) = sum over k in this block's split of A(m, k) B(k, n). Block tile kBM x kBN at
// (blockIdx.y, blockIdx.x); thread (ty, tx) = (tid / 16, tid % 16) owns rows ty + 16i and
// columns tx + 16j, i, j < 4 (strided, so a warp reads shared memory without conflicts).
template <class T, class P> __global__ void __launch_bounds__(kConvThreads) igemm_kernel(P p, int k_per_split) {
  __shared__ T As[kBK][kBM];
  __shared__ T Bs[kBK][kBN];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int m0 = blockIdx.y * kBM, n0 = blockIdx.x * kBN;
  const int kb = blockIdx.z * k_per_split, ke = min(p.K, kb + k_per_split);
  T acc[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = T(0);

  for (int k0 = kb; k0 < ke; k0 += kBK) {
    // A tile: consecutive threads take consecutive k (rows of A are contiguous in k).
#pragma unroll
    for (int r = 0; r < (kBM * kBK) / kConvThreads; ++r) {
      const int e = tid + kConvThreads * r, ml = e / kBK, kl = e % kBK;
      const int m = m0 + ml, k = k0 + kl;
      As[kl][ml] = (m < p.M && k < ke) ? p.a(m, k) : T(0);
    }
    // B tile: consecutive threads take consecutive n (pixels: contiguous in the activations).
#pragma unroll
    for (int r = 0; r < (kBN * kBK) / kConvThreads; ++r) {
      const int e = tid + kConvThreads * r, kl = e / kBN, nl = e % kBN;
      const int k = k0 + kl, n = n0 + nl;
      Bs[kl][nl] = (k < ke && n < p.N) ? p.b(k, n) : T(0);
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kBK; ++kk) {
      T av[4], bv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) av[i] = As[kk][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; ++j) bv[j] = Bs[kk][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = d_fma(av[i], bv[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int m = m0 + ty + 16 * i, n = n0 + tx + 16 * j;
      if (m < p.M && n < p.N) p.store(blockIdx.z, m, n, acc[i][j]);
    }
}

// gw[q] = sum over splits s (in order) of partial[s][q].
template <class T>
__global__ void sum_splits_kernel(const T* __restrict__ partial, int splits, int64_t mn, T* __restrict__ gw) {
  SADANET_GRID_STRIDE(int64_t, q, mn) {
    T s = partial[q];
    for (int z = 1; z < splits; ++z) s += partial[z * mn + q];
    gw[q] = s;
  }
}

// ---- host side --------------------------------------------------------------------------------------

int checked_int(const char* kernel, const char* what, int64_t v) {
  // Headroom for tile arithmetic (m0 + 63, k0 + 15) in int.
  SADANET_CHECK(v >= 0 && v <= INT_MAX - 1024, kernel, ": ", what, " = ", v,
                " is too large for the implicit-GEMM convolution (limit 2^31 - 1024)");
  return static_cast<int>(v);
}

Geom make_geom(const char* kernel, const Shape& xs, const Shape& ws, const Shape& ys, const Conv2dParams& p) {
  Geom g;
  g.Nb = checked_int(kernel, "N", xs[0]);
  g.C = checked_int(kernel, "C", xs[1]);
  g.H = checked_int(kernel, "H", xs[2]);
  g.W = checked_int(kernel, "W", xs[3]);
  g.O = checked_int(kernel, "O", ws[0]);
  g.kh = checked_int(kernel, "kh", ws[2]);
  g.kw = checked_int(kernel, "kw", ws[3]);
  g.Ho = checked_int(kernel, "Ho", ys[2]);
  g.Wo = checked_int(kernel, "Wo", ys[3]);
  g.sh = checked_int(kernel, "stride_h", p.stride_h);
  g.sw = checked_int(kernel, "stride_w", p.stride_w);
  g.ph = checked_int(kernel, "pad_h", p.pad_h);
  g.pw = checked_int(kernel, "pad_w", p.pad_w);
  g.dh = checked_int(kernel, "dilation_h", p.dilation_h);
  g.dw = checked_int(kernel, "dilation_w", p.dilation_w);
  return g;
}

template <class T, class P> void launch_igemm(const char* name, const P& prob, int splits, int k_per_split) {
  SADANET_CHECK(ceil_div(prob.M, kBM) <= 65535, name, ": ", prob.M, " output rows exceed the grid limit");
  const dim3 grid(static_cast<unsigned>(ceil_div(prob.N, kBN)), static_cast<unsigned>(ceil_div(prob.M, kBM)),
                  static_cast<unsigned>(splits));
  SADANET_LAUNCH((grid, kConvThreads, 0, current_stream()), igemm_kernel<T, P>)(prob, k_per_split);
}

template <class T>
void forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y) {
  const char* k = "conv2d_forward (implicit GEMM)";
  ForwardProblem<T> prob;
  prob.g = make_geom(k, x.shape(), w.shape(), y.shape(), p);
  prob.x = static_cast<const T*>(x.raw_data());
  prob.w = static_cast<const T*>(w.raw_data());
  prob.bias = bias.defined() ? static_cast<const T*>(bias.raw_data()) : nullptr;
  prob.y = static_cast<T*>(y.raw_data());
  prob.M = prob.g.O;
  prob.N = checked_int(k, "N*Ho*Wo", static_cast<int64_t>(prob.g.Nb) * prob.g.Ho * prob.g.Wo);
  prob.K = checked_int(k, "C*kh*kw", static_cast<int64_t>(prob.g.C) * prob.g.kh * prob.g.kw);
  launch_igemm<T>(k, prob, 1, std::max(prob.K, 1));
}

template <class T> void backward_input(const Tensor& gy, const Tensor& w, const Conv2dParams& p, Tensor& gx) {
  const char* k = "conv2d_backward_input (implicit GEMM)";
  BackwardInputProblem<T> prob;
  prob.g = make_geom(k, gx.shape(), w.shape(), gy.shape(), p);
  prob.gy = static_cast<const T*>(gy.raw_data());
  prob.w = static_cast<const T*>(w.raw_data());
  prob.gx = static_cast<T*>(gx.raw_data());
  prob.M = prob.g.C;
  prob.N = checked_int(k, "N*H*W", static_cast<int64_t>(prob.g.Nb) * prob.g.H * prob.g.W);
  prob.K = checked_int(k, "O*kh*kw", static_cast<int64_t>(prob.g.O) * prob.g.kh * prob.g.kw);
  launch_igemm<T>(k, prob, 1, std::max(prob.K, 1));
}

template <class T> void backward_weight(const Tensor& gy, const Tensor& x, const Conv2dParams& p, Tensor& gw) {
  const char* k = "conv2d_backward_weight (implicit GEMM)";
  BackwardWeightProblem<T> prob;
  prob.g = make_geom(k, x.shape(), gw.shape(), gy.shape(), p);
  prob.gy = static_cast<const T*>(gy.raw_data());
  prob.x = static_cast<const T*>(x.raw_data());
  prob.M = prob.g.O;
  prob.N = checked_int(k, "C*kh*kw", static_cast<int64_t>(prob.g.C) * prob.g.kh * prob.g.kw);
  prob.K = checked_int(k, "N*Ho*Wo", static_cast<int64_t>(prob.g.Nb) * prob.g.Ho * prob.g.Wo);
  // Split K until the GPU has ~2 blocks per SM, keeping >= 512 of K per split.
  const int64_t tiles = ceil_div(prob.M, kBM) * ceil_div(prob.N, kBN);
  const int64_t want = 2 * static_cast<int64_t>(sm_count());
  int64_t splits = 1;
  if (tiles < want && prob.K > 512) splits = std::min(ceil_div(want, tiles), ceil_div(prob.K, 512));
  splits = std::clamp<int64_t>(splits, 1, 4096);
  const int64_t per = std::max<int64_t>(kBK, ceil_div(ceil_div(prob.K, splits), kBK) * kBK);  // multiple of kBK
  splits = std::max<int64_t>(1, ceil_div(prob.K, per));
  const int64_t mn = static_cast<int64_t>(prob.M) * prob.N;
  if (splits == 1) {
    prob.out = static_cast<T*>(gw.raw_data());
    launch_igemm<T>(k, prob, 1, static_cast<int>(per));
    return;
  }
  DeviceBuffer partial(sizeof(T) * static_cast<size_t>(splits * mn), gw.device().index);
  prob.out = partial.as<T>();
  launch_igemm<T>(k, prob, static_cast<int>(splits), static_cast<int>(per));
  SADANET_LAUNCH((grid_for(mn), kThreads, 0, current_stream()), sum_splits_kernel<T>)(partial.as<T>(), static_cast<int>(splits), mn,
                                                                         static_cast<T*>(gw.raw_data()));
}

}  // namespace

void conv2d_forward_igemm(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y) {
  dispatch_floating(x.dtype(), "conv2d_forward", [&]<class T>() { forward<T>(x, w, bias, p, y); });
}
void conv2d_backward_input_igemm(const Tensor& gy, const Tensor& w, const Conv2dParams& p, Tensor& gx) {
  dispatch_floating(gy.dtype(), "conv2d_backward_input", [&]<class T>() { backward_input<T>(gy, w, p, gx); });
}
void conv2d_backward_weight_igemm(const Tensor& gy, const Tensor& x, const Conv2dParams& p, Tensor& gw) {
  dispatch_floating(gy.dtype(), "conv2d_backward_weight", [&]<class T>() { backward_weight<T>(gy, x, p, gw); });
}

}  // namespace sadanet::cuda
