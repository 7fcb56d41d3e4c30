// Element-wise iteration over K strided operands of one shape (unary: x, out; binary: a, b, out).
// Dimensions are merged wherever every operand allows it, so a contiguous tensor becomes one
// long run, a row broadcast two dims with stride 0 on the outer one, and so on; the kernel then
// only sees runs of `n` elements along the innermost dimension with fixed per-operand strides.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "cpu/cpu_utils.h"

namespace sadanet::cpu {

// Elements per thread below which a loop stays single-threaded (memory-bound work).
constexpr int64_t kElementwiseGrain = 32768;

template <size_t K> struct StridedLoop {
  Shape sizes;                    // at least one dim; sizes.back() is the inner run
  std::array<Shape, K> strides;   // per operand, in elements
  int64_t numel = 1;
  int64_t inner_stride(size_t k) const { return strides[k].back(); }
};

template <size_t K>
StridedLoop<K> make_strided_loop(const Shape& shape, const std::array<const Shape*, K>& strides) {
  StridedLoop<K> L;
  L.numel = shape_numel(shape);
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;  // size-1 dims carry no iteration, whatever their stride
    bool merge = !L.sizes.empty();
    for (size_t k = 0; k < K && merge; ++k)
      merge = L.strides[k].back() == (*strides[k])[d] * shape[d];
    if (merge) {
      // The previous (outer) dim steps exactly over this one for every operand: fold them.
      L.sizes.back() *= shape[d];
      for (size_t k = 0; k < K; ++k) L.strides[k].back() = (*strides[k])[d];
    } else {
      L.sizes.push_back(shape[d]);
      for (size_t k = 0; k < K; ++k) L.strides[k].push_back((*strides[k])[d]);
    }
  }
  if (L.sizes.empty()) {  // a single element
    L.sizes.push_back(1);
    for (size_t k = 0; k < K; ++k) L.strides[k].push_back(1);
  }
  return L;
}

// Calls fn(offsets, n) for the runs covering row-major elements [begin, end): offsets[k] is the
// element offset of the run's first element in operand k, n its length (inner strides apply).
template <size_t K, class Fn>
void strided_loop_range(const StridedLoop<K>& L, int64_t begin, int64_t end, Fn&& fn) {
  if (begin >= end) return;
  const int64_t nd = static_cast<int64_t>(L.sizes.size());
  const int64_t inner = L.sizes[nd - 1];
  int64_t row = begin / inner, col = begin % inner;
  std::vector<int64_t> idx(nd > 1 ? nd - 1 : 0, 0);
  std::array<int64_t, K> base{};
  for (int64_t d = nd - 2; d >= 0; --d) {
    idx[d] = row % L.sizes[d];
    row /= L.sizes[d];
    for (size_t k = 0; k < K; ++k) base[k] += idx[d] * L.strides[k][d];
  }
  int64_t pos = begin;
  while (pos < end) {
    const int64_t n = std::min(inner - col, end - pos);
    std::array<int64_t, K> off;
    for (size_t k = 0; k < K; ++k) off[k] = base[k] + col * L.strides[k][nd - 1];
    fn(off, n);
    pos += n;
    col = 0;
    if (pos >= end) break;
    for (int64_t d = nd - 2; d >= 0; --d) {  // odometer step to the next row
      if (++idx[d] < L.sizes[d]) {
        for (size_t k = 0; k < K; ++k) base[k] += L.strides[k][d];
        break;
      }
      for (size_t k = 0; k < K; ++k) base[k] -= L.strides[k][d] * (L.sizes[d] - 1);
      idx[d] = 0;
    }
  }
}

// The whole loop, split across threads by element ranges (so one long run parallelises too).
template <size_t K, class Fn> void strided_loop_parallel(const StridedLoop<K>& L, Fn&& fn) {
  parallel_for(L.numel, kElementwiseGrain, [&](int64_t b, int64_t e) { strided_loop_range(L, b, e, fn); });
}

// Contiguous, counting a tensor without elements as contiguous (whatever its strides say).
inline bool dense(const Tensor& t) { return t.numel() == 0 || t.is_contiguous(); }

// f32/f64 plus the integer types: for comparisons, which also serve labels and argmax results.
template <class Fn> void dispatch_compare(DType t, const char* kernel, Fn&& fn) {
  switch (t) {
    case DType::f32: fn.template operator()<float>(); return;
    case DType::f64: fn.template operator()<double>(); return;
    case DType::i32: fn.template operator()<int32_t>(); return;
    case DType::i64: fn.template operator()<int64_t>(); return;
    case DType::u8: fn.template operator()<uint8_t>(); return;
    default:
      throw Error(detail::concat(kernel, ": CPU comparison supports f32, f64, i32, i64 and u8, got ", dtype_name(t)));
  }
}

}  // namespace sadanet::cpu
