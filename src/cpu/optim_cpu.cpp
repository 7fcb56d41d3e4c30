// CPU optimizer steps. Each mirrors PyTorch's single-tensor update op by op, with every scalar
// cast to the element type first and no fused multiply-adds, so an f32 run rounds like
// torch.optim's on the CPU.
#include <cmath>

#include "cpu/cpu_utils.h"
#include "kernels/kernels.h"

namespace sadanet::cpu {
namespace {

constexpr int64_t kGrain = 1 << 14;  // elements per thread below which one thread does it all

void check_same(const Tensor& p, const Tensor& t, const char* what, const char* kernel) {
  SADANET_CHECK(t.defined() && t.shape() == p.shape() && t.dtype() == p.dtype() && t.is_contiguous(),
                kernel, ": ", what, " must be a contiguous ", dtype_name(p.dtype()), " tensor of shape ",
                shape_str(p.shape()));
}

void cpu_adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq,
               const kernels::AdamArgs& a) {
  SADANET_CHECK(param.is_contiguous(), "adam_step: the parameter must be contiguous");
  check_same(param, grad, "grad", "adam_step");
  check_same(param, exp_avg, "exp_avg", "adam_step");
  check_same(param, exp_avg_sq, "exp_avg_sq", "adam_step");
  SADANET_CHECK(a.step >= 1, "adam_step: step is 1-based, got ", a.step);
  // Scalars as torch's Python code forms them, in double.
  const double bc1 = 1.0 - std::pow(a.beta1, static_cast<double>(a.step));
  const double bc2 = 1.0 - std::pow(a.beta2, static_cast<double>(a.step));
  const double step_size = a.lr / bc1;
  const double bc2_sqrt = std::sqrt(bc2);
  dispatch_floating(param.dtype(), "adam_step", [&]<class T>() {
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* m = exp_avg.data<T>();
    T* v = exp_avg_sq.data<T>();
    const T b1 = T(a.beta1), b2 = T(a.beta2), omb1 = T(1.0 - a.beta1), omb2 = T(1.0 - a.beta2);
    const T wd = T(a.weight_decay), keep = T(1.0 - a.lr * a.weight_decay);
    const T neg_step = T(-step_size), bc2s = T(bc2_sqrt), eps = T(a.eps);
    const bool l2 = !a.decoupled && a.weight_decay != 0.0;
    parallel_for(param.numel(), kGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        T pi = p[i], gi = g[i];
        if (a.decoupled) pi = pi * keep;          // param.mul_(1 - lr * wd)
        if (l2) gi = gi + wd * pi;                // grad.add(param, alpha=wd)
        T mi = m[i] * b1;                         // exp_avg.mul_(beta1)
        mi = mi + omb1 * gi;                      //   .add_(grad, alpha=1 - beta1)
        T vi = v[i] * b2;                         // exp_avg_sq.mul_(beta2)
        vi = vi + omb2 * gi * gi;                 //   .addcmul_(grad, grad, value=1 - beta2)
        T denom = std::sqrt(vi) / bc2s;           // exp_avg_sq.sqrt() / bc2_sqrt
        denom = denom + eps;                      //   .add_(eps)
        p[i] = pi + neg_step * mi / denom;        // param.addcdiv_(exp_avg, denom, value=-step_size)
        m[i] = mi;
        v[i] = vi;
      }
    });
  });
}

void cpu_sgd_step(Tensor& param, const Tensor& grad, Tensor& buf, const kernels::SgdArgs& a) {
  SADANET_CHECK(param.is_contiguous(), "sgd_step: the parameter must be contiguous");
  check_same(param, grad, "grad", "sgd_step");
  const bool mom = a.momentum != 0.0;
  if (mom) check_same(param, buf, "momentum_buf", "sgd_step");
  dispatch_floating(param.dtype(), "sgd_step", [&]<class T>() {
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* mb = mom ? buf.data<T>() : nullptr;
    const T wd = T(a.weight_decay), mu = T(a.momentum), omd = T(1.0 - a.dampening), neg_lr = T(-a.lr);
    const bool l2 = a.weight_decay != 0.0;
    parallel_for(param.numel(), kGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        T d = g[i];
        if (l2) d = d + wd * p[i];                // d_p.add(param, alpha=wd)
        if (mom) {
          T bi;
          if (a.first_step) {
            bi = d;                               // buf = clone(d_p)
          } else {
            bi = mb[i] * mu;                      // buf.mul_(momentum)
            bi = bi + omd * d;                    //   .add_(d_p, alpha=1 - dampening)
          }
          mb[i] = bi;
          d = a.nesterov ? d + mu * bi : bi;      // d_p.add(buf, alpha=momentum) or buf
        }
        p[i] = p[i] + neg_lr * d;                 // param.add_(d_p, alpha=-lr)
      }
    });
  });
}

}  // namespace

SADANET_REGISTER_KERNEL(adam_step, DeviceType::cpu, &cpu_adam_step);
SADANET_REGISTER_KERNEL(sgd_step, DeviceType::cpu, &cpu_sgd_step);

}  // namespace sadanet::cpu
