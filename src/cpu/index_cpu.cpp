// Indexing along one axis of a contiguous [outer, size, inner] view: index_select / gather (any
// dtype: they only move elements) and their adjoints index_add / scatter_add (floating). Every
// index is checked before anything is written, and a bad one is named in the error.
#include <algorithm>
#include <cstring>

#include "cpu/strided_loop.h"
#include "kernels/kernels.h"

namespace sadanet {
namespace {

constexpr int64_t kGrain = 32768;
constexpr int64_t kBlock = 256;  // inner columns per task in the accumulating kernels

void check_indices(const char* kernel, const Tensor& index, int64_t size) {
  SADANET_CHECK(index.dtype() == DType::i64 && cpu::dense(index), kernel,
                ": expected a contiguous i64 index, got ", dtype_name(index.dtype()));
  const int64_t* p = index.data<int64_t>();
  for (int64_t k = 0; k < index.numel(); ++k)
    SADANET_CHECK(p[k] >= 0 && p[k] < size, kernel, ": index ", p[k], " (at position ", k,
                  ") is out of range for a dimension of size ", size);
}

void check_contig(const char* kernel, const Tensor& t, int64_t numel, const char* what) {
  SADANET_CHECK(cpu::dense(t) && t.numel() == numel, kernel, ": expected ", what, " contiguous with ", numel,
                " elements, got shape ", shape_str(t.shape()));
}

// Element moves by size only, so every dtype (labels included) can be selected and gathered.
template <class Fn> void dispatch_by_size(DType t, Fn&& fn) {
  switch (dtype_size(t)) {
    case 1: fn.template operator()<uint8_t>(); return;
    case 2: fn.template operator()<uint16_t>(); return;
    case 4: fn.template operator()<uint32_t>(); return;
    case 8: fn.template operator()<uint64_t>(); return;
    default: throw Error(detail::concat("index: unsupported element size ", dtype_size(t)));
  }
}

// Runs fn(o, c0, w) over (outer row, block of inner columns) tasks; a task owns its output
// columns, so accumulation needs no atomics even when indices repeat.
template <class Fn> void for_column_blocks(int64_t outer, int64_t inner, int64_t work_per_col, Fn&& fn) {
  const int64_t nb = (inner + kBlock - 1) / kBlock;
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(work_per_col * std::min(inner, kBlock), 1));
  cpu::parallel_for(outer * nb, grain, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t c0 = (t % nb) * kBlock;
      fn(t / nb, c0, std::min(kBlock, inner - c0));
    }
  });
}

void index_select_cpu(const Tensor& x, int64_t outer, int64_t dim_size, int64_t inner, const Tensor& index,
                      Tensor& out) {
  const int64_t m = index.numel();
  check_contig("index_select", x, outer * dim_size * inner, "x");
  check_contig("index_select", out, outer * m * inner, "out");
  SADANET_CHECK(x.dtype() == out.dtype(), "index_select: x and out dtypes differ");
  check_indices("index_select", index, dim_size);
  const int64_t* idx = index.data<int64_t>();
  const size_t row_bytes = static_cast<size_t>(inner) * dtype_size(x.dtype());
  const auto* src = static_cast<const char*>(x.raw_data());
  auto* dst = static_cast<char*>(out.raw_data());
  if (out.numel() == 0) return;
  cpu::parallel_for(outer * m, std::max<int64_t>(1, kGrain / std::max<int64_t>(inner, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t o = r / m, j = r % m;
      std::memcpy(dst + r * row_bytes, src + (o * dim_size + idx[j]) * row_bytes, row_bytes);
    }
  });
}

void index_add_cpu(const Tensor& grad_out, int64_t outer, int64_t dim_size, int64_t inner, const Tensor& index,
                   Tensor& grad_x) {
  const int64_t m = index.numel();
  check_contig("index_add", grad_out, outer * m * inner, "grad_out");
  check_contig("index_add", grad_x, outer * dim_size * inner, "grad_x");
  check_indices("index_add", index, dim_size);
  const int64_t* idx = index.data<int64_t>();
  if (grad_out.numel() == 0) return;
  cpu::dispatch_floating(grad_x.dtype(), "index_add", [&]<class T>() {
    const T* g = grad_out.data<T>();
    T* gx = grad_x.data<T>();
    for_column_blocks(outer, inner, m, [&](int64_t o, int64_t c0, int64_t w) {
      for (int64_t j = 0; j < m; ++j) {
        const T* s = g + (o * m + j) * inner + c0;
        T* d = gx + (o * dim_size + idx[j]) * inner + c0;
        for (int64_t i = 0; i < w; ++i) d[i] += s[i];
      }
    });
  });
}

void gather_cpu(const Tensor& x, const Tensor& index, int64_t outer, int64_t d, int64_t d_index, int64_t inner,
                Tensor& out) {
  check_contig("gather", x, outer * d * inner, "x");
  check_contig("gather", index, outer * d_index * inner, "index");
  check_contig("gather", out, outer * d_index * inner, "out");
  SADANET_CHECK(x.dtype() == out.dtype(), "gather: x and out dtypes differ");
  check_indices("gather", index, d);
  const int64_t* idx = index.data<int64_t>();
  if (out.numel() == 0) return;
  dispatch_by_size(x.dtype(), [&]<class U>() {
    const U* src = static_cast<const U*>(x.raw_data());
    U* dst = static_cast<U*>(out.raw_data());
    cpu::parallel_for(outer * d_index * inner, kGrain, [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) {
        const int64_t o = k / (d_index * inner), i = k % inner;
        dst[k] = src[(o * d + idx[k]) * inner + i];
      }
    });
  });
}

void scatter_add_cpu(const Tensor& grad_out, const Tensor& index, int64_t outer, int64_t d, int64_t d_index,
                     int64_t inner, Tensor& grad_x) {
  check_contig("scatter_add", grad_out, outer * d_index * inner, "grad_out");
  check_contig("scatter_add", index, outer * d_index * inner, "index");
  check_contig("scatter_add", grad_x, outer * d * inner, "grad_x");
  check_indices("scatter_add", index, d);
  const int64_t* idx = index.data<int64_t>();
  if (grad_out.numel() == 0) return;
  cpu::dispatch_floating(grad_x.dtype(), "scatter_add", [&]<class T>() {
    const T* g = grad_out.data<T>();
    T* gx = grad_x.data<T>();
    for_column_blocks(outer, inner, d_index, [&](int64_t o, int64_t c0, int64_t w) {
      for (int64_t j = 0; j < d_index; ++j) {
        const int64_t row = (o * d_index + j) * inner + c0;
        for (int64_t i = 0; i < w; ++i) gx[(o * d + idx[row + i]) * inner + c0 + i] += g[row + i];
      }
    });
  });
}

}  // namespace

SADANET_REGISTER_KERNEL(index_select, DeviceType::cpu, index_select_cpu);
SADANET_REGISTER_KERNEL(index_add, DeviceType::cpu, index_add_cpu);
SADANET_REGISTER_KERNEL(gather, DeviceType::cpu, gather_cpu);
SADANET_REGISTER_KERNEL(scatter_add, DeviceType::cpu, scatter_add_cpu);

}  // namespace sadanet
