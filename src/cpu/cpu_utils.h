// Helpers shared by the CPU kernels: dtype dispatch, parallel loops, strided iteration.
#pragma once
#include <omp.h>

#include <cstdint>
#include <vector>

#include "sadanet/error.h"
#include "sadanet/tensor.h"

namespace sadanet::cpu {

// Calls fn.template operator()<T>() for T = float or double; throws for other dtypes.
template <class Fn> void dispatch_floating(DType t, const char* kernel, Fn&& fn) {
  switch (t) {
    case DType::f32: fn.template operator()<float>(); return;
    case DType::f64: fn.template operator()<double>(); return;
    default:
      throw Error(detail::concat(kernel, ": CPU kernel supports f32 and f64, got ", dtype_name(t)));
  }
}
// Every dtype (for copies and fills).
template <class Fn> void dispatch_all(DType t, Fn&& fn) {
  switch (t) {
    case DType::f32: fn.template operator()<float>(); return;
    case DType::f64: fn.template operator()<double>(); return;
    case DType::bf16: fn.template operator()<bf16>(); return;
    case DType::f16: fn.template operator()<f16>(); return;
    case DType::i32: fn.template operator()<int32_t>(); return;
    case DType::i64: fn.template operator()<int64_t>(); return;
    case DType::u8: fn.template operator()<uint8_t>(); return;
  }
}

// Splits [0, n) across the OpenMP threads when the work is worth it (grain = items per thread
// below which one thread does it all). fn(begin, end).
template <class Fn> void parallel_for(int64_t n, int64_t grain, Fn&& fn) {
  if (n <= 0) return;
  int threads = omp_get_max_threads();
  if (threads <= 1 || n <= grain || omp_in_parallel()) {
    fn(int64_t{0}, n);
    return;
  }
  int64_t chunks = std::min<int64_t>(threads, (n + grain - 1) / grain);
#pragma omp parallel for num_threads(static_cast<int>(chunks)) schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    int64_t b = n * c / chunks, e = n * (c + 1) / chunks;
    if (b < e) fn(b, e);
  }
}

// Offsets (in elements) of every element of a strided tensor in row-major order, computed a row
// at a time: fn(row_offset, inner_stride, inner_size) for each run along the last dimension.
template <class Fn> void for_each_row(const Shape& shape, const Shape& strides, int64_t base, Fn&& fn) {
  const int64_t nd = static_cast<int64_t>(shape.size());
  if (nd == 0) { fn(base, int64_t{1}, int64_t{1}); return; }
  for (auto s : shape) if (s == 0) return;
  const int64_t inner = shape[nd - 1], inner_stride = strides[nd - 1];
  std::vector<int64_t> idx(nd > 1 ? nd - 1 : 0, 0);
  int64_t off = base;
  while (true) {
    fn(off, inner_stride, inner);
    int64_t d = nd - 2;
    for (; d >= 0; --d) {
      if (++idx[d] < shape[d]) { off += strides[d]; break; }
      off -= strides[d] * (shape[d] - 1);
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

// Element offset of row-major linear index i in a strided tensor.
inline int64_t strided_offset(int64_t i, const Shape& shape, const Shape& strides) {
  int64_t off = 0;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    off += (i % shape[d]) * strides[d];
    i /= shape[d];
  }
  return off;
}

template <class T> inline double to_double(T v) { return static_cast<double>(static_cast<float>(v)); }
template <> inline double to_double<double>(double v) { return v; }
template <> inline double to_double<int64_t>(int64_t v) { return static_cast<double>(v); }
template <> inline double to_double<int32_t>(int32_t v) { return static_cast<double>(v); }
template <> inline double to_double<uint8_t>(uint8_t v) { return static_cast<double>(v); }
template <class T> inline T from_double(double v) { return static_cast<T>(static_cast<float>(v)); }
template <> inline double from_double<double>(double v) { return v; }
// Float -> integer truncates toward zero like PyTorch; out-of-range values (and NaN) saturate
// instead of being undefined behaviour, and narrow types wrap from int64 as PyTorch's do.
template <> inline int64_t from_double<int64_t>(double v) {
  if (!(v > -9.2e18)) return INT64_MIN;
  if (v > 9.2e18) return INT64_MAX;
  return static_cast<int64_t>(v);
}
template <> inline int32_t from_double<int32_t>(double v) {
  return static_cast<int32_t>(static_cast<uint32_t>(from_double<int64_t>(v)));
}
template <> inline uint8_t from_double<uint8_t>(double v) {
  return static_cast<uint8_t>(static_cast<uint64_t>(from_double<int64_t>(v)));
}

}  // namespace sadanet::cpu
