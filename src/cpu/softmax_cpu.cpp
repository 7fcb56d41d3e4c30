// Softmax and log-softmax along the middle axis of a contiguous [outer, d, inner] view, forward
// and backward. The maximum is subtracted before exp so large logits do not overflow; sums
// accumulate in double.
#include <algorithm>
#include <cmath>

#include "cpu/strided_loop.h"
#include "kernels/kernels.h"

namespace sadanet {
namespace {

constexpr int64_t kGrain = 32768;
constexpr int64_t kBlock = 128;  // inner columns handled together when inner > 1

// Calls fn(o, c0, w) for every (outer row, block of w inner columns), in parallel.
template <class Fn> void for_blocks(int64_t outer, int64_t d, int64_t inner, Fn&& fn) {
  const int64_t bw = inner == 1 ? 1 : kBlock;
  const int64_t nblocks = (inner + bw - 1) / bw;
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(d * std::min(inner, bw), 1));
  cpu::parallel_for(outer * nblocks, grain, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / nblocks, c0 = (t % nblocks) * bw;
      fn(o, c0, std::min(bw, inner - c0));
    }
  });
}

// inner == 1 (softmax over the last dim, the common case): each row is contiguous.
template <class T> void forward_rows(const T* x, int64_t outer, int64_t d, bool log, T* y) {
  cpu::parallel_for(outer, std::max<int64_t>(1, kGrain / std::max<int64_t>(d, 1)), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      const T* xr = x + o * d;
      T* yr = y + o * d;
      T mx = xr[0];
      for (int64_t j = 1; j < d && !std::isnan(mx); ++j)
        if (!(xr[j] <= mx)) mx = xr[j];  // greater, or NaN (which then stays)
      double sum = 0;
      for (int64_t j = 0; j < d; ++j) {
        const T ev = std::exp(xr[j] - mx);
        if (!log) yr[j] = ev;
        sum += static_cast<double>(ev);
      }
      if (log) {
        const T lse = static_cast<T>(static_cast<double>(mx) + std::log(sum));
        for (int64_t j = 0; j < d; ++j) yr[j] = xr[j] - lse;
      } else {
        const T inv = static_cast<T>(1.0 / sum);
        for (int64_t j = 0; j < d; ++j) yr[j] *= inv;
      }
    }
  });
}

template <class T> void forward(const T* x, int64_t outer, int64_t d, int64_t inner, bool log, T* y) {
  if (inner == 1) return forward_rows(x, outer, d, log, y);
  for_blocks(outer, d, inner, [&](int64_t o, int64_t c0, int64_t w) {
    const int64_t base = o * d * inner + c0;
    T mx[kBlock];
    double sum[kBlock];
    for (int64_t i = 0; i < w; ++i) { mx[i] = x[base + i]; sum[i] = 0; }
    for (int64_t j = 1; j < d; ++j)
      for (int64_t i = 0; i < w; ++i) {
        const T v = x[base + j * inner + i];
        if (!(v <= mx[i])) mx[i] = std::isnan(mx[i]) ? mx[i] : v;  // NaN propagates
      }
    for (int64_t j = 0; j < d; ++j)
      for (int64_t i = 0; i < w; ++i) {
        const int64_t k = base + j * inner + i;
        const T e = std::exp(x[k] - mx[i]);
        if (!log) y[k] = e;
        sum[i] += static_cast<double>(e);
      }
    if (log) {
      for (int64_t i = 0; i < w; ++i) sum[i] = static_cast<double>(mx[i]) + std::log(sum[i]);  // log-sum-exp
      for (int64_t j = 0; j < d; ++j)
        for (int64_t i = 0; i < w; ++i) {
          const int64_t k = base + j * inner + i;
          y[k] = static_cast<T>(static_cast<double>(x[k]) - sum[i]);
        }
    } else {
      for (int64_t i = 0; i < w; ++i) sum[i] = 1.0 / sum[i];
      for (int64_t j = 0; j < d; ++j)
        for (int64_t i = 0; i < w; ++i) {
          const int64_t k = base + j * inner + i;
          y[k] = static_cast<T>(static_cast<double>(y[k]) * sum[i]);
        }
    }
  });
}

template <class T> void backward_rows(const T* g, const T* y, int64_t outer, int64_t d, bool log, T* gx) {
  cpu::parallel_for(outer, std::max<int64_t>(1, kGrain / std::max<int64_t>(d, 1)), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      const T* gr = g + o * d;
      const T* yr = y + o * d;
      T* xr = gx + o * d;
      double acc = 0;
      if (log) {
        for (int64_t j = 0; j < d; ++j) acc += static_cast<double>(gr[j]);
        const T s = static_cast<T>(acc);
        for (int64_t j = 0; j < d; ++j) xr[j] = gr[j] - std::exp(yr[j]) * s;
      } else {
        for (int64_t j = 0; j < d; ++j) acc += static_cast<double>(gr[j]) * static_cast<double>(yr[j]);
        const T s = static_cast<T>(acc);
        for (int64_t j = 0; j < d; ++j) xr[j] = yr[j] * (gr[j] - s);
      }
    }
  });
}

template <class T>
void backward(const T* g, const T* y, int64_t outer, int64_t d, int64_t inner, bool log, T* gx) {
  if (inner == 1) return backward_rows(g, y, outer, d, log, gx);
  for_blocks(outer, d, inner, [&](int64_t o, int64_t c0, int64_t w) {
    const int64_t base = o * d * inner + c0;
    double acc[kBlock];
    std::fill(acc, acc + w, 0.0);
    // softmax: sum_j g*y; log_softmax: sum_j g.
    for (int64_t j = 0; j < d; ++j)
      for (int64_t i = 0; i < w; ++i) {
        const int64_t k = base + j * inner + i;
        acc[i] += log ? static_cast<double>(g[k]) : static_cast<double>(g[k]) * static_cast<double>(y[k]);
      }
    for (int64_t j = 0; j < d; ++j)
      for (int64_t i = 0; i < w; ++i) {
        const int64_t k = base + j * inner + i;
        const double gk = g[k], yk = y[k];
        gx[k] = static_cast<T>(log ? gk - std::exp(yk) * acc[i] : yk * (gk - acc[i]));
      }
  });
}

void check_view(const char* kernel, const Tensor& t, int64_t outer, int64_t d, int64_t inner) {
  SADANET_CHECK(cpu::dense(t) && t.numel() == outer * d * inner, kernel, ": expected a contiguous tensor of ",
                outer, "x", d, "x", inner, " elements, got shape ", shape_str(t.shape()));
}

void softmax_forward_cpu(const Tensor& x, int64_t outer, int64_t d, int64_t inner, bool log, Tensor& out) {
  check_view("softmax_forward", x, outer, d, inner);
  check_view("softmax_forward", out, outer, d, inner);
  if (x.numel() == 0) return;
  cpu::dispatch_floating(x.dtype(), "softmax_forward",
                         [&]<class T>() { forward<T>(x.data<T>(), outer, d, inner, log, out.data<T>()); });
}

void softmax_backward_cpu(const Tensor& grad_out, const Tensor& out, int64_t outer, int64_t d, int64_t inner,
                          bool log, Tensor& grad_in) {
  check_view("softmax_backward", grad_out, outer, d, inner);
  check_view("softmax_backward", out, outer, d, inner);
  check_view("softmax_backward", grad_in, outer, d, inner);
  if (out.numel() == 0) return;
  cpu::dispatch_floating(out.dtype(), "softmax_backward", [&]<class T>() {
    backward<T>(grad_out.data<T>(), out.data<T>(), outer, d, inner, log, grad_in.data<T>());
  });
}

}  // namespace

SADANET_REGISTER_KERNEL(softmax_forward, DeviceType::cpu, softmax_forward_cpu);
SADANET_REGISTER_KERNEL(softmax_backward, DeviceType::cpu, softmax_backward_cpu);

}  // namespace sadanet
