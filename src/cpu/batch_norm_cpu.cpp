// Batch norm on the CPU over x viewed as [N, C, S] (S = H*W, or 1 for [N, C]), one channel per
// task. Statistics accumulate in double so that f32 sums over large batches stay accurate.
#include <cmath>

#include "cpu/cpu_utils.h"
#include "kernels/kernels.h"

namespace sadanet::cpu {
namespace {

struct BnGeom {
  int64_t N, C, S;
  explicit BnGeom(const Tensor& x) : N(x.size(0)), C(x.size(1)), S(x.numel() / std::max<int64_t>(x.size(0) * x.size(1), 1)) {}
  int64_t count() const { return N * S; }
  // Start of channel c's contiguous run of S elements in image n.
  int64_t at(int64_t n, int64_t c) const { return (n * C + c) * S; }
};

template <class T> const T* opt(const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; }
template <class T> T* opt_mut(Tensor& t) { return t.defined() ? t.data<T>() : nullptr; }

template <class T>
void train(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean, Tensor& running_var,
           double momentum, double eps, Tensor& y, Tensor& save_mean, Tensor& save_invstd) {
  const BnGeom g(x);
  const T* X = x.data<T>();
  const T *Wt = opt<T>(weight), *B = opt<T>(bias);
  T *RM = opt_mut<T>(running_mean), *RV = opt_mut<T>(running_var);
  T *Y = y.data<T>(), *SM = save_mean.data<T>(), *SI = save_invstd.data<T>();
  const double M = static_cast<double>(g.count());
  parallel_for(g.C, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double sum = 0;
      for (int64_t n = 0; n < g.N; ++n) {
        const T* xr = X + g.at(n, c);
        for (int64_t s = 0; s < g.S; ++s) sum += xr[s];
      }
      const double mean = sum / M;
      double sq = 0;  // two passes: no cancellation when |mean| >> std
      for (int64_t n = 0; n < g.N; ++n) {
        const T* xr = X + g.at(n, c);
        for (int64_t s = 0; s < g.S; ++s) { const double d = xr[s] - mean; sq += d * d; }
      }
      const double var = sq / M;
      const double invstd = 1.0 / std::sqrt(var + eps);
      const double scale = (Wt ? static_cast<double>(Wt[c]) : 1.0) * invstd;
      // (x - mean) first: folding mean into the shift would cancel badly when |mean| >> std.
      const T sc = static_cast<T>(scale), mu = static_cast<T>(mean), sh = B ? B[c] : T(0);
      for (int64_t n = 0; n < g.N; ++n) {
        const T* xr = X + g.at(n, c);
        T* yr = Y + g.at(n, c);
        for (int64_t s = 0; s < g.S; ++s) yr[s] = (xr[s] - mu) * sc + sh;
      }
      SM[c] = static_cast<T>(mean);
      SI[c] = static_cast<T>(invstd);
      if (RM) RM[c] = static_cast<T>((1 - momentum) * RM[c] + momentum * mean);
      if (RV) RV[c] = static_cast<T>((1 - momentum) * RV[c] + momentum * var * M / (M - 1));
    }
  });
}

template <class T>
void eval(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
          const Tensor& running_var, double eps, Tensor& y) {
  const BnGeom g(x);
  const T* X = x.data<T>();
  const T *Wt = opt<T>(weight), *B = opt<T>(bias);
  const T *RM = running_mean.data<T>(), *RV = running_var.data<T>();
  T* Y = y.data<T>();
  parallel_for(g.C, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const double scale = (Wt ? static_cast<double>(Wt[c]) : 1.0) / std::sqrt(static_cast<double>(RV[c]) + eps);
      const T sc = static_cast<T>(scale), mu = RM[c], sh = B ? B[c] : T(0);
      for (int64_t n = 0; n < g.N; ++n) {
        const T* xr = X + g.at(n, c);
        T* yr = Y + g.at(n, c);
        for (int64_t s = 0; s < g.S; ++s) yr[s] = (xr[s] - mu) * sc + sh;
      }
    }
  });
}

// With xhat = (x - mean) * invstd, per channel: grad_bias = sum(g), grad_weight = sum(g * xhat);
// train: grad_x = w * invstd * (g - sum(g)/M - xhat * sum(g * xhat)/M); eval: grad_x = g * w * invstd.
template <class T>
void backward(const Tensor& gy, const Tensor& x, const Tensor& weight, const Tensor& mean, const Tensor& invstd,
              bool is_train, Tensor& gx, Tensor& gw, Tensor& gb) {
  const BnGeom g(x);
  const T *GY = gy.data<T>(), *X = x.data<T>(), *Wt = opt<T>(weight);
  const T *MU = mean.data<T>(), *IS = invstd.data<T>();
  T *GX = opt_mut<T>(gx), *GW = opt_mut<T>(gw), *GB = opt_mut<T>(gb);
  const double M = static_cast<double>(g.count());
  parallel_for(g.C, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const double mu = MU[c], is = IS[c];
      double sum_g = 0, sum_gxh = 0;
      for (int64_t n = 0; n < g.N; ++n) {
        const T *gr = GY + g.at(n, c), *xr = X + g.at(n, c);
        for (int64_t s = 0; s < g.S; ++s) { sum_g += gr[s]; sum_gxh += gr[s] * (xr[s] - mu); }
      }
      sum_gxh *= is;
      if (GB) GB[c] = static_cast<T>(sum_g);
      if (GW) GW[c] = static_cast<T>(sum_gxh);
      if (!GX) continue;
      const double k = (Wt ? static_cast<double>(Wt[c]) : 1.0) * is;
      // grad_x = k*g + a*(x - mean) + b: the train-mode correction as one affine term.
      const double a = is_train ? -k * is * sum_gxh / M : 0.0;
      const double b = is_train ? -k * sum_g / M : 0.0;
      const T kt = static_cast<T>(k), at = static_cast<T>(a), bt = static_cast<T>(b), mt = MU[c];
      for (int64_t n = 0; n < g.N; ++n) {
        const T *gr = GY + g.at(n, c), *xr = X + g.at(n, c);
        T* gxr = GX + g.at(n, c);
        for (int64_t s = 0; s < g.S; ++s) gxr[s] = kt * gr[s] + at * (xr[s] - mt) + bt;
      }
    }
  });
}

void train_kernel(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& rm, Tensor& rv, double momentum,
                  double eps, Tensor& y, Tensor& sm, Tensor& si) {
  dispatch_floating(x.dtype(), "batch_norm_train", [&]<class T>() { train<T>(x, w, b, rm, rv, momentum, eps, y, sm, si); });
}
void eval_kernel(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& rm, const Tensor& rv, double eps,
                 Tensor& y) {
  dispatch_floating(x.dtype(), "batch_norm_eval", [&]<class T>() { eval<T>(x, w, b, rm, rv, eps, y); });
}
void backward_kernel(const Tensor& gy, const Tensor& x, const Tensor& w, const Tensor& mean, const Tensor& invstd,
                     bool is_train, Tensor& gx, Tensor& gw, Tensor& gb) {
  dispatch_floating(x.dtype(), "batch_norm_backward",
                    [&]<class T>() { backward<T>(gy, x, w, mean, invstd, is_train, gx, gw, gb); });
}

}  // namespace
}  // namespace sadanet::cpu

namespace sadanet {
SADANET_REGISTER_KERNEL(batch_norm_train, DeviceType::cpu, &cpu::train_kernel);
SADANET_REGISTER_KERNEL(batch_norm_eval, DeviceType::cpu, &cpu::eval_kernel);
SADANET_REGISTER_KERNEL(batch_norm_backward, DeviceType::cpu, &cpu::backward_kernel);
}  // namespace sadanet
