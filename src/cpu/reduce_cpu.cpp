// Reductions over the middle axis of a contiguous [outer, r, inner] view: sum, mean, max (with
// first-max indices; NaN wins and propagates) and var (two passes, divisor max(0, r - correction)).
// Every sum accumulates in double, so an f32 sum over millions of elements keeps its digits.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/strided_loop.h"
#include "kernels/kernels.h"

namespace sadanet {
namespace {

constexpr int64_t kGrain = 32768;  // elements of input per thread, below which one thread does it
constexpr int64_t kBlock = 256;    // inner columns reduced together (one accumulator row in L1)

// ---- inner == 1: each output reduces one contiguous span ---------------------------------------

template <class T> double span_sum(const T* p, int64_t n) {
  double acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += static_cast<double>(p[i]);
  return acc;
}

template <class T> double span_sq_dev(const T* p, int64_t n, double mean) {
  double acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(p[i]) - mean;
    acc += d * d;
  }
  return acc;
}

// Running maximum: a later element replaces the best only when strictly greater, or when it is
// NaN (then nothing replaces it). `!(v <= best)` is exactly "greater or NaN".
template <class T> struct MaxAcc {
  T best;
  int64_t index;
  bool done() const { return std::isnan(best); }
  void see(T v, int64_t j) {
    if (!done() && !(v <= best)) { best = v; index = j; }
  }
  void merge(const MaxAcc& o) {  // o covers later positions
    if (!done() && !(o.best <= best)) *this = o;
  }
};

template <class T> MaxAcc<T> span_max(const T* p, int64_t n, int64_t first_index) {
  MaxAcc<T> m{p[0], first_index};
  for (int64_t i = 1; i < n && !m.done(); ++i) m.see(p[i], first_index + i);
  return m;
}

// A few long spans (e.g. a full reduction): split each span across the threads.
template <class T> double parallel_span_sum(const T* p, int64_t n) {
  int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(omp_get_max_threads(), n / kGrain));
  std::vector<double> part(chunks, 0.0);
  cpu::parallel_for(chunks, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) part[c] = span_sum(p + n * c / chunks, n * (c + 1) / chunks - n * c / chunks);
  });
  double acc = 0;
  for (double v : part) acc += v;
  return acc;
}

template <class T> double parallel_span_sq_dev(const T* p, int64_t n, double mean) {
  int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(omp_get_max_threads(), n / kGrain));
  std::vector<double> part(chunks, 0.0);
  cpu::parallel_for(chunks, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c)
      part[c] = span_sq_dev(p + n * c / chunks, n * (c + 1) / chunks - n * c / chunks, mean);
  });
  double acc = 0;
  for (double v : part) acc += v;
  return acc;
}

template <class T> MaxAcc<T> parallel_span_max(const T* p, int64_t n) {
  int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(omp_get_max_threads(), n / kGrain));
  std::vector<MaxAcc<T>> part(chunks);
  cpu::parallel_for(chunks, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      const int64_t s = n * c / chunks;
      part[c] = span_max(p + s, n * (c + 1) / chunks - s, s);
    }
  });
  MaxAcc<T> m = part[0];
  for (int64_t c = 1; c < chunks; ++c) m.merge(part[c]);  // in order: the first maximum wins
  return m;
}

template <class T>
void reduce_spans(ReduceOp op, const T* x, int64_t outer, int64_t r, T* out, int64_t* idx, int64_t correction) {
  const double var_div = static_cast<double>(std::max<int64_t>(0, r - correction));
  auto one = [&](int64_t o, bool split) {
    const T* p = x + o * r;
    if (op == ReduceOp::max) {
      MaxAcc<T> m = split ? parallel_span_max(p, r) : span_max(p, r, 0);
      out[o] = m.best;
      if (idx) idx[o] = m.index;
      return;
    }
    const double s = split ? parallel_span_sum(p, r) : span_sum(p, r);
    if (op == ReduceOp::sum) { out[o] = static_cast<T>(s); return; }
    const double mean = s / static_cast<double>(r);
    if (op == ReduceOp::mean) { out[o] = static_cast<T>(mean); return; }
    const double ss = split ? parallel_span_sq_dev(p, r, mean) : span_sq_dev(p, r, mean);
    out[o] = static_cast<T>(ss / var_div);
  };
  if (outer < omp_get_max_threads() && r > kGrain) {
    for (int64_t o = 0; o < outer; ++o) one(o, true);
  } else {
    cpu::parallel_for(outer, std::max<int64_t>(1, kGrain / std::max<int64_t>(r, 1)), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) one(o, false);
    });
  }
}

// ---- inner > 1: reduce rows of a [r, inner] slab column-wise, kBlock columns at a time --------

template <class T>
void reduce_columns(ReduceOp op, const T* x, int64_t outer, int64_t r, int64_t inner, T* out, int64_t* idx,
                    int64_t correction) {
  const int64_t nblocks = (inner + kBlock - 1) / kBlock;
  const double var_div = static_cast<double>(std::max<int64_t>(0, r - correction));
  const int64_t task_grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(r * std::min(inner, kBlock), 1));
  cpu::parallel_for(outer * nblocks, task_grain, [&](int64_t tb, int64_t te) {
    double acc[kBlock];
    T best[kBlock];
    int64_t where[kBlock];
    for (int64_t t = tb; t < te; ++t) {
      const int64_t o = t / nblocks, c0 = (t % nblocks) * kBlock, w = std::min(kBlock, inner - c0);
      const T* base = x + o * r * inner + c0;
      T* dst = out + o * inner + c0;
      if (op == ReduceOp::max) {
        for (int64_t i = 0; i < w; ++i) { best[i] = base[i]; where[i] = 0; }
        for (int64_t j = 1; j < r; ++j) {
          const T* row = base + j * inner;
          for (int64_t i = 0; i < w; ++i)
            if (!std::isnan(best[i]) && !(row[i] <= best[i])) { best[i] = row[i]; where[i] = j; }
        }
        for (int64_t i = 0; i < w; ++i) dst[i] = best[i];
        if (idx)
          for (int64_t i = 0; i < w; ++i) idx[o * inner + c0 + i] = where[i];
        continue;
      }
      std::fill(acc, acc + w, 0.0);
      for (int64_t j = 0; j < r; ++j) {
        const T* row = base + j * inner;
        for (int64_t i = 0; i < w; ++i) acc[i] += static_cast<double>(row[i]);
      }
      if (op == ReduceOp::sum) {
        for (int64_t i = 0; i < w; ++i) dst[i] = static_cast<T>(acc[i]);
        continue;
      }
      for (int64_t i = 0; i < w; ++i) acc[i] /= static_cast<double>(r);  // now the mean
      if (op == ReduceOp::mean) {
        for (int64_t i = 0; i < w; ++i) dst[i] = static_cast<T>(acc[i]);
        continue;
      }
      double ss[kBlock];
      std::fill(ss, ss + w, 0.0);
      for (int64_t j = 0; j < r; ++j) {
        const T* row = base + j * inner;
        for (int64_t i = 0; i < w; ++i) {
          const double d = static_cast<double>(row[i]) - acc[i];
          ss[i] += d * d;
        }
      }
      for (int64_t i = 0; i < w; ++i) dst[i] = static_cast<T>(ss[i] / var_div);
    }
  });
}

void reduce_cpu(ReduceOp op, const Tensor& x, int64_t outer, int64_t r, int64_t inner, Tensor& out,
                Tensor& indices, int64_t correction) {
  SADANET_CHECK(cpu::dense(x) && x.numel() == outer * r * inner, "reduce: expected a contiguous input of ",
                outer, "x", r, "x", inner, " elements, got shape ", shape_str(x.shape()));
  SADANET_CHECK(out.numel() == outer * inner, "reduce: output has ", out.numel(), " elements, expected ",
                outer * inner);
  SADANET_CHECK(op != ReduceOp::max || r > 0 || outer * inner == 0,
                "reduce: max over an empty dimension has no value");
  int64_t* idx = nullptr;
  if (indices.defined()) {
    SADANET_CHECK(op == ReduceOp::max && indices.dtype() == DType::i64 && indices.numel() == outer * inner,
                  "reduce: indices must be i64 with ", outer * inner, " elements, for max only");
    idx = indices.data<int64_t>();
  }
  if (outer * inner == 0) return;
  cpu::dispatch_floating(x.dtype(), "reduce", [&]<class T>() {
    const T* xp = x.data<T>();
    T* op_ = out.data<T>();
    if (inner == 1) reduce_spans<T>(op, xp, outer, r, op_, idx, correction);
    else reduce_columns<T>(op, xp, outer, r, inner, op_, idx, correction);
  });
}

}  // namespace

SADANET_REGISTER_KERNEL(reduce, DeviceType::cpu, reduce_cpu);

}  // namespace sadanet
