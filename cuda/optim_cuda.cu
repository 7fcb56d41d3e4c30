// CUDA optimizer steps: adam_step and sgd_step per tensor (the kernel slots) and the fused
// multi-tensor Adam of cuda_optim.h. Each mirrors the CPU kernel (src/cpu/optim_cpu.cpp) op by
// op: scalars cast to the element type first, and no fused multiply-adds (this backend builds
// with --fmad=false; division and sqrt are IEEE), so an f32 step gives the CPU's bits.
#include <cmath>
#include <cstring>

#include "cuda_common.cuh"
#include "cuda_optim.h"

namespace sadanet::cuda {
namespace {

__device__ __forceinline__ float d_sqrt(float v) { return ::sqrtf(v); }
__device__ __forceinline__ double d_sqrt(double v) { return ::sqrt(v); }

// ---- Adam ---------------------------------------------------------------------------------------------

// Scalars shared by every parameter of a step.
template <class T> struct AdamScalars {
  T b1, b2, omb1, omb2, wd, keep, eps;
  bool decoupled, l2;
};
// Per parameter: -lr / (1 - beta1^step) and sqrt(1 - beta2^step), in T.
template <class T> struct AdamStepScalars {
  T neg_step, bc2s;
};

template <class T>
__device__ __forceinline__ void adam_update(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ m,
                                            T* __restrict__ v, int64_t i, const AdamScalars<T>& s,
                                            const AdamStepScalars<T>& t) {
  T pi = p[i], gi = g[i];
  if (s.decoupled) pi = pi * s.keep;  // param.mul_(1 - lr * wd)
  if (s.l2) gi = gi + s.wd * pi;      // grad.add(param, alpha=wd)
  T mi = m[i] * s.b1;                 // exp_avg.mul_(beta1)
  mi = mi + s.omb1 * gi;              //   .add_(grad, alpha=1 - beta1)
  T vi = v[i] * s.b2;                 // exp_avg_sq.mul_(beta2)
  vi = vi + s.omb2 * gi * gi;         //   .addcmul_(grad, grad, value=1 - beta2)
  T denom = d_sqrt(vi) / t.bc2s;      // exp_avg_sq.sqrt() / bc2_sqrt
  denom = denom + s.eps;              //   .add_(eps)
  p[i] = pi + t.neg_step * mi / denom;  // param.addcdiv_(exp_avg, denom, value=-step_size)
  m[i] = mi;
  v[i] = vi;
}

template <class T>
AdamScalars<T> adam_scalars(const kernels::AdamArgs& a) {
  AdamScalars<T> s;
  s.b1 = T(a.beta1);
  s.b2 = T(a.beta2);
  s.omb1 = T(1.0 - a.beta1);
  s.omb2 = T(1.0 - a.beta2);
  s.wd = T(a.weight_decay);
  s.keep = T(1.0 - a.lr * a.weight_decay);
  s.eps = T(a.eps);
  s.decoupled = a.decoupled;
  s.l2 = !a.decoupled && a.weight_decay != 0.0;
  return s;
}

// The bias corrections as torch's Python code forms them, in double.
template <class T> AdamStepScalars<T> adam_step_scalars(const kernels::AdamArgs& a, int64_t step) {
  SADANET_CHECK(step >= 1, "adam_step: step is 1-based, got ", step);
  const double bc1 = 1.0 - std::pow(a.beta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(a.beta2, static_cast<double>(step));
  return {T(-(a.lr / bc1)), T(std::sqrt(bc2))};
}

template <class T>
__global__ void adam_kernel(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ m, T* __restrict__ v, int64_t n,
                            AdamScalars<T> s, AdamStepScalars<T> t) {
  SADANET_GRID_STRIDE(int64_t, i, n) adam_update(p, g, m, v, i, s, t);
}

// Multi-tensor: a table of tensors and a table of chunks (one block each).
template <class T> struct AdamTensorDesc {
  T* p;
  const T* g;
  T* m;
  T* v;
  int64_t n;
  AdamStepScalars<T> t;
};
struct AdamChunk {
  int64_t tensor;
  int64_t start;
};
constexpr int64_t kAdamChunk = 16384;  // elements per block (64 per thread)

template <class T>
__global__ void adam_multi_tensor_kernel(const AdamTensorDesc<T>* __restrict__ tensors,
                                         const AdamChunk* __restrict__ chunks, AdamScalars<T> s) {
  const AdamChunk ch = chunks[blockIdx.x];
  const AdamTensorDesc<T> d = tensors[ch.tensor];
  const int64_t end = min(d.n, ch.start + kAdamChunk);
  for (int64_t i = ch.start + threadIdx.x; i < end; i += blockDim.x) adam_update(d.p, d.g, d.m, d.v, i, s, d.t);
}

void check_same(const Tensor& p, const Tensor& t, const char* what, const char* kernel) {
  SADANET_CHECK(t.defined() && t.shape() == p.shape() && t.dtype() == p.dtype() && dense(t), kernel, ": ",
                what, " must be a contiguous ", dtype_name(p.dtype()), " tensor of shape ", shape_str(p.shape()));
  SADANET_CHECK(t.device() == p.device(), kernel, ": ", what, " is on ", t.device().str(), ", the parameter on ",
                p.device().str());
}

void check_adam_entry(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v, const char* kernel) {
  SADANET_CHECK(param.defined() && dense(param), kernel, ": the parameter must be contiguous");
  check_on_cuda(kernel, param, "the parameter");
  check_same(param, grad, "grad", kernel);
  check_same(param, m, "exp_avg", kernel);
  check_same(param, v, "exp_avg_sq", kernel);
}

void adam_step_cuda(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const kernels::AdamArgs& a) {
  check_adam_entry(param, grad, exp_avg, exp_avg_sq, "adam_step");
  dispatch_floating(param.dtype(), "adam_step", [&]<class T>() {
    const AdamStepScalars<T> t = adam_step_scalars<T>(a, a.step);
    const int64_t n = param.numel();
    if (n == 0) return;
    DeviceGuard guard(param.device());
    SADANET_LAUNCH((grid_for(n), kThreads, 0, current_stream()), adam_kernel<T>)(
        static_cast<T*>(param.raw_data()), static_cast<const T*>(grad.raw_data()), static_cast<T*>(exp_avg.raw_data()),
        static_cast<T*>(exp_avg_sq.raw_data()), n, adam_scalars<T>(a), t);
  });
}

template <class T> void adam_multi_typed(const std::vector<const AdamParamRef*>& items, const kernels::AdamArgs& hyper) {
  std::vector<AdamTensorDesc<T>> tensors;
  std::vector<AdamChunk> chunks;
  for (const AdamParamRef* r : items) {
    const int64_t n = r->param.numel();
    if (n == 0) continue;
    const int64_t ti = static_cast<int64_t>(tensors.size());
    tensors.push_back({static_cast<T*>(r->param.raw_data()), static_cast<const T*>(r->grad.raw_data()),
                       static_cast<T*>(r->exp_avg.raw_data()), static_cast<T*>(r->exp_avg_sq.raw_data()), n,
                       adam_step_scalars<T>(hyper, r->step)});
    for (int64_t start = 0; start < n; start += kAdamChunk) chunks.push_back({ti, start});
  }
  if (chunks.empty()) return;
  SADANET_CHECK(chunks.size() <= static_cast<size_t>(INT32_MAX), "adam_multi_tensor: too many chunks (", chunks.size(), ")");
  // One upload: the tensor table, then the chunk table (both 8-byte aligned structs).
  const size_t tensor_bytes = sizeof(AdamTensorDesc<T>) * tensors.size();
  const size_t chunk_offset = (tensor_bytes + 15) / 16 * 16;
  const size_t total = chunk_offset + sizeof(AdamChunk) * chunks.size();
  std::vector<unsigned char> host(total);
  std::memcpy(host.data(), tensors.data(), tensor_bytes);
  std::memcpy(host.data() + chunk_offset, chunks.data(), sizeof(AdamChunk) * chunks.size());
  int dev = 0;
  SADANET_CUDA_CHECK(cudaGetDevice(&dev));
  DeviceBuffer table(total, dev);
  cudaStream_t stream = current_stream();
  // From pageable memory: returns once the bytes are staged, so `host` may go right after.
  SADANET_CUDA_CHECK(cudaMemcpyAsync(table.get(), host.data(), total, cudaMemcpyHostToDevice, stream));
  const auto* dt = reinterpret_cast<const AdamTensorDesc<T>*>(table.as<unsigned char>());
  const auto* dc = reinterpret_cast<const AdamChunk*>(table.as<unsigned char>() + chunk_offset);
  SADANET_LAUNCH((static_cast<unsigned>(chunks.size()), kThreads, 0, stream), adam_multi_tensor_kernel<T>)(dt, dc, adam_scalars<T>(hyper));
}

// ---- SGD ----------------------------------------------------------------------------------------------

template <class T> struct SgdScalars {
  T wd, mu, omd, neg_lr;
  bool l2, momentum, first_step, nesterov;
};

template <class T>
__global__ void sgd_kernel(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ mb, int64_t n, SgdScalars<T> s) {
  SADANET_GRID_STRIDE(int64_t, i, n) {
    T d = g[i];
    if (s.l2) d = d + s.wd * p[i];  // d_p.add(param, alpha=wd)
    if (s.momentum) {
      T bi;
      if (s.first_step) {
        bi = d;  // buf = clone(d_p)
      } else {
        bi = mb[i] * s.mu;    // buf.mul_(momentum)
        bi = bi + s.omd * d;  //   .add_(d_p, alpha=1 - dampening)
      }
      mb[i] = bi;
      d = s.nesterov ? d + s.mu * bi : bi;  // d_p.add(buf, alpha=momentum) or buf
    }
    p[i] = p[i] + s.neg_lr * d;  // param.add_(d_p, alpha=-lr)
  }
}

void sgd_step_cuda(Tensor& param, const Tensor& grad, Tensor& buf, const kernels::SgdArgs& a) {
  SADANET_CHECK(dense(param), "sgd_step: the parameter must be contiguous");
  check_on_cuda("sgd_step", param, "the parameter");
  check_same(param, grad, "grad", "sgd_step");
  const bool mom = a.momentum != 0.0;
  if (mom) check_same(param, buf, "momentum_buf", "sgd_step");
  dispatch_floating(param.dtype(), "sgd_step", [&]<class T>() {
    const int64_t n = param.numel();
    if (n == 0) return;
    DeviceGuard guard(param.device());
    const SgdScalars<T> s{T(a.weight_decay), T(a.momentum), T(1.0 - a.dampening), T(-a.lr),
                          a.weight_decay != 0.0, mom, a.first_step, a.nesterov};
    SADANET_LAUNCH((grid_for(n), kThreads, 0, current_stream()), sgd_kernel<T>)(
        static_cast<T*>(param.raw_data()), static_cast<const T*>(grad.raw_data()),
        mom ? static_cast<T*>(buf.raw_data()) : nullptr, n, s);
  });
}

}  // namespace

void adam_multi_tensor(const std::vector<AdamParamRef>& params, const kernels::AdamArgs& hyper) {
  if (params.empty()) return;
  std::vector<const AdamParamRef*> f32, f64;
  const Device dev = params[0].param.device();
  for (size_t i = 0; i < params.size(); ++i) {
    const AdamParamRef& r = params[i];
    check_adam_entry(r.param, r.grad, r.exp_avg, r.exp_avg_sq, "adam_multi_tensor");
    SADANET_CHECK(r.param.device() == dev, "adam_multi_tensor: entry ", i, " is on ", r.param.device().str(),
                  ", entry 0 on ", dev.str(), " (one call per device)");
    SADANET_CHECK(r.step >= 1, "adam_multi_tensor: entry ", i, " has step ", r.step, " (1-based)");
    switch (r.param.dtype()) {
      case DType::f32: f32.push_back(&r); break;
      case DType::f64: f64.push_back(&r); break;
      default:
        throw Error(detail::concat("adam_multi_tensor: CUDA kernel supports f32 and f64, got ",
                                   dtype_name(r.param.dtype()), " (entry ", i, ")"));
    }
  }
  DeviceGuard guard(dev);
  adam_multi_typed<float>(f32, hyper);
  adam_multi_typed<double>(f64, hyper);
}

}  // namespace sadanet::cuda

namespace sadanet {
SADANET_REGISTER_KERNEL(adam_step, DeviceType::cuda, &cuda::adam_step_cuda);
SADANET_REGISTER_KERNEL(sgd_step, DeviceType::cuda, &cuda::sgd_step_cuda);
}  // namespace sadanet
