// CUDA negative log-likelihood over log-probabilities viewed as [n, c, inner] with i64 targets
// [n, inner] (src/cpu/nll_cpu.cpp): per-element losses -w[t] * logp[t], 0 where the target is
// ignore_index, and wsum = the sum of the weights used, reduced deterministically (fixed grid,
// per-block partial sums, then one block in order). Targets are validated on the device
// (IndexCheck); a bad one is skipped by the kernels and reported after them with the CPU's message.
#include <algorithm>

#include "cuda_common.cuh"

namespace sadanet::cuda {
namespace {

constexpr unsigned kMaxBlocks = 1024;  // fixed upper bound: wsum's summation order does not depend on the GPU

template <class T>
__global__ void nll_forward_kernel(const T* __restrict__ lp, const int64_t* __restrict__ target, const T* __restrict__ w,
                                   int64_t total, int64_t c, int64_t inner, int64_t ignore_index, T* __restrict__ loss,
                                   double* __restrict__ partial) {
  __shared__ double smem[32];
  double acc = 0;
  SADANET_GRID_STRIDE(int64_t, k, total) {
    const int64_t cls = target[k];
    if (cls == ignore_index || cls < 0 || cls >= c) {  // bad targets: reported by the IndexCheck
      loss[k] = T(0);
      continue;
    }
    const int64_t i = k / inner, j = k % inner;
    loss[k] = -(w ? w[cls] : T(1)) * lp[(i * c + cls) * inner + j];
    acc += w ? static_cast<double>(w[cls]) : 1.0;
  }
  acc = block_sum(acc, smem);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

template <class W>
__global__ void nll_wsum_kernel(const double* __restrict__ partial, int n, W* __restrict__ wsum) {
  __shared__ double smem[32];
  double acc = 0;
  for (int b = threadIdx.x; b < n; b += blockDim.x) acc += partial[b];
  acc = block_sum(acc, smem);
  if (threadIdx.x == 0) wsum[0] = static_cast<W>(acc);
}

template <class T>
__global__ void nll_backward_kernel(const T* __restrict__ g, const int64_t* __restrict__ target, const T* __restrict__ w,
                                    int64_t total, int64_t c, int64_t inner, int64_t ignore_index, T* __restrict__ gx) {
  SADANET_GRID_STRIDE(int64_t, k, total) {
    const int64_t cls = target[k];
    if (cls == ignore_index || cls < 0 || cls >= c) continue;
    const int64_t i = k / inner, j = k % inner;
    gx[(i * c + cls) * inner + j] = -(w ? w[cls] : T(1)) * g[k];
  }
}

void check_args(const char* kernel, const Tensor& logp, const Tensor& target, const Tensor& weight, int64_t n,
                int64_t c, int64_t inner) {
  SADANET_CHECK(dense(logp) && logp.numel() == n * c * inner, kernel, ": expected contiguous logp of ", n,
                "x", c, "x", inner, " elements, got shape ", shape_str(logp.shape()));
  SADANET_CHECK(target.dtype() == DType::i64 && dense(target) && target.numel() == n * inner, kernel,
                ": expected contiguous i64 target of ", n * inner, " elements, got ", dtype_name(target.dtype()), " ",
                shape_str(target.shape()));
  SADANET_CHECK(!weight.defined() || (dense(weight) && weight.numel() == c && weight.dtype() == logp.dtype()),
                kernel, ": expected a contiguous weight of ", c, " elements in ", dtype_name(logp.dtype()));
  check_on_cuda(kernel, logp, "logp");
  check_on_cuda(kernel, target, "target");
  if (weight.defined()) check_on_cuda(kernel, weight, "weight");
}

void throw_if_bad_target(const IndexCheck& check, int64_t c, int64_t ignore_index) {
  int64_t pos = 0, v = 0;
  if (check.first_bad(pos, v))
    throw Error(detail::concat("nll_loss: target ", v, " at position ", pos, " is out of range for ", c,
                               " classes (expected 0..", c - 1, " or ignore_index ", ignore_index, ")"));
}

void nll_forward_cuda(const Tensor& logp, const Tensor& target, const Tensor& weight, int64_t n, int64_t c,
                      int64_t inner, int64_t ignore_index, Tensor& loss, Tensor& wsum) {
  check_args("nll_forward", logp, target, weight, n, c, inner);
  SADANET_CHECK(loss.numel() == n * inner && loss.dtype() == logp.dtype() && dense(loss) && wsum.numel() == 1,
                "nll_forward: loss must hold ", n * inner, " ", dtype_name(logp.dtype()), " and wsum one element");
  check_on_cuda("nll_forward", loss, "loss");
  check_on_cuda("nll_forward", wsum, "wsum");
  const int64_t total = n * inner;
  dispatch_floating(logp.dtype(), "nll_forward", [&]<class T>() {
    dispatch_floating(wsum.dtype(), "nll_forward", [&]<class W>() {
      DeviceGuard guard(logp.device());
      cudaStream_t stream = current_stream();
      const auto* t = static_cast<const int64_t*>(target.raw_data());
      IndexCheck check("nll_forward", t, total, c, true, ignore_index);
      const unsigned blocks = std::min(grid_for(total), kMaxBlocks);
      DeviceBuffer partial(sizeof(double) * blocks, logp.device().index);
      if (total > 0) {
        SADANET_LAUNCH((blocks, kThreads, 0, stream), nll_forward_kernel<T>)(
            static_cast<const T*>(logp.raw_data()), t, weight.defined() ? static_cast<const T*>(weight.raw_data()) : nullptr,
            total, c, inner, ignore_index, static_cast<T*>(loss.raw_data()), partial.as<double>());
      }
      // No targets: wsum = 0 (the kernel wrote nothing).
      SADANET_LAUNCH((1, kThreads, 0, stream), nll_wsum_kernel<W>)(partial.as<double>(), total > 0 ? static_cast<int>(blocks) : 0,
                                                     static_cast<W*>(wsum.raw_data()));
      throw_if_bad_target(check, c, ignore_index);
    });
  });
}

void nll_backward_cuda(const Tensor& grad_loss, const Tensor& target, const Tensor& weight, int64_t n, int64_t c,
                       int64_t inner, int64_t ignore_index, Tensor& grad_logp) {
  check_args("nll_backward", grad_logp, target, weight, n, c, inner);
  SADANET_CHECK(dense(grad_loss) && grad_loss.numel() == n * inner && grad_loss.dtype() == grad_logp.dtype(),
                "nll_backward: expected a contiguous grad_loss of ", n * inner, " elements in ",
                dtype_name(grad_logp.dtype()), ", got ", dtype_name(grad_loss.dtype()), " ",
                shape_str(grad_loss.shape()));
  check_on_cuda("nll_backward", grad_loss, "grad_loss");
  const int64_t total = n * inner;
  dispatch_floating(grad_logp.dtype(), "nll_backward", [&]<class T>() {
    DeviceGuard guard(grad_logp.device());
    const auto* t = static_cast<const int64_t*>(target.raw_data());
    IndexCheck check("nll_backward", t, total, c, true, ignore_index);  // the target may have changed since forward
    if (total > 0) {
      // grad_logp is zero-filled by the op: only the target entries are written.
      SADANET_LAUNCH((grid_for(total), kThreads, 0, current_stream()), nll_backward_kernel<T>)(
          static_cast<const T*>(grad_loss.raw_data()), t,
          weight.defined() ? static_cast<const T*>(weight.raw_data()) : nullptr, total, c, inner, ignore_index,
          static_cast<T*>(grad_logp.raw_data()));
    }
    throw_if_bad_target(check, c, ignore_index);
  });
}

}  // namespace
}  // namespace sadanet::cuda

namespace sadanet {
SADANET_REGISTER_KERNEL(nll_forward, DeviceType::cuda, &cuda::nll_forward_cuda);
SADANET_REGISTER_KERNEL(nll_backward, DeviceType::cuda, &cuda::nll_backward_cuda);
}  // namespace sadanet
