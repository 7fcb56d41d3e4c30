// Negative log-likelihood over log-probabilities viewed as [n, c, inner] with i64 targets
// [n, inner]: per-element losses -w[t] * logp[t] and the sum of the weights used (the divisor of
// PyTorch's weighted mean). Targets equal to ignore_index contribute nothing.
#include <vector>

#include "cpu/strided_loop.h"
#include "kernels/kernels.h"

namespace sadanet {
namespace {

constexpr int64_t kGrain = 32768;

// Every target is a class id or ignore_index; the message names the first bad one and where.
void check_targets(const int64_t* t, int64_t n, int64_t c, int64_t inner, int64_t ignore_index) {
  for (int64_t k = 0; k < n * inner; ++k) {
    const int64_t v = t[k];
    SADANET_CHECK(v == ignore_index || (v >= 0 && v < c), "nll_loss: target ", v, " at position ", k,
                  " is out of range for ", c, " classes (expected 0..", c - 1, " or ignore_index ", ignore_index,
                  ")");
  }
}

void check_args(const char* kernel, const Tensor& logp, const Tensor& target, const Tensor& weight, int64_t n,
                int64_t c, int64_t inner) {
  SADANET_CHECK(cpu::dense(logp) && logp.numel() == n * c * inner, kernel, ": expected contiguous logp of ", n,
                "x", c, "x", inner, " elements, got shape ", shape_str(logp.shape()));
  SADANET_CHECK(target.dtype() == DType::i64 && cpu::dense(target) && target.numel() == n * inner, kernel,
                ": expected contiguous i64 target of ", n * inner, " elements, got ", dtype_name(target.dtype()), " ",
                shape_str(target.shape()));
  SADANET_CHECK(!weight.defined() || (cpu::dense(weight) && weight.numel() == c && weight.dtype() == logp.dtype()),
                kernel, ": expected a contiguous weight of ", c, " elements in ", dtype_name(logp.dtype()));
}

void nll_forward_cpu(const Tensor& logp, const Tensor& target, const Tensor& weight, int64_t n, int64_t c,
                     int64_t inner, int64_t ignore_index, Tensor& loss, Tensor& wsum) {
  check_args("nll_forward", logp, target, weight, n, c, inner);
  SADANET_CHECK(loss.numel() == n * inner && loss.dtype() == logp.dtype() && wsum.numel() == 1,
                "nll_forward: loss must hold ", n * inner, " ", dtype_name(logp.dtype()), " and wsum one element");
  const int64_t* t = target.data<int64_t>();
  check_targets(t, n, c, inner, ignore_index);
  double total = 0;
  cpu::dispatch_floating(logp.dtype(), "nll_forward", [&]<class T>() {
    const T* lp = logp.data<T>();
    const T* w = weight.defined() ? weight.data<T>() : nullptr;
    T* out = loss.data<T>();
    cpu::parallel_for(n * inner, kGrain, [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) {
        const int64_t cls = t[k];
        if (cls == ignore_index) { out[k] = T(0); continue; }
        const int64_t i = k / inner, j = k % inner;
        out[k] = -(w ? w[cls] : T(1)) * lp[(i * c + cls) * inner + j];
      }
    });
    for (int64_t k = 0; k < n * inner; ++k)
      if (t[k] != ignore_index) total += w ? static_cast<double>(w[t[k]]) : 1.0;
  });
  cpu::dispatch_floating(wsum.dtype(), "nll_forward", [&]<class W>() { wsum.data<W>()[0] = static_cast<W>(total); });
}

void nll_backward_cpu(const Tensor& grad_loss, const Tensor& target, const Tensor& weight, int64_t n, int64_t c,
                      int64_t inner, int64_t ignore_index, Tensor& grad_logp) {
  check_args("nll_backward", grad_logp, target, weight, n, c, inner);
  SADANET_CHECK(cpu::dense(grad_loss) && grad_loss.numel() == n * inner && grad_loss.dtype() == grad_logp.dtype(),
                "nll_backward: expected a contiguous grad_loss of ", n * inner, " elements in ",
                dtype_name(grad_logp.dtype()), ", got ", dtype_name(grad_loss.dtype()), " ",
                shape_str(grad_loss.shape()));
  const int64_t* t = target.data<int64_t>();
  check_targets(t, n, c, inner, ignore_index);  // the target may have changed since forward
  cpu::dispatch_floating(grad_logp.dtype(), "nll_backward", [&]<class T>() {
    const T* g = grad_loss.data<T>();
    const T* w = weight.defined() ? weight.data<T>() : nullptr;
    T* gx = grad_logp.data<T>();  // zero-filled by the op: only the target entries are written
    cpu::parallel_for(n * inner, kGrain, [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) {
        const int64_t cls = t[k];
        if (cls == ignore_index) continue;
        const int64_t i = k / inner, j = k % inner;
        gx[(i * c + cls) * inner + j] = -(w ? w[cls] : T(1)) * g[k];
      }
    });
  });
}

}  // namespace

SADANET_REGISTER_KERNEL(nll_forward, DeviceType::cpu, nll_forward_cpu);
SADANET_REGISTER_KERNEL(nll_backward, DeviceType::cpu, nll_backward_cpu);

}  // namespace sadanet
