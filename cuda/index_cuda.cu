// CUDA indexing along one axis of a contiguous [outer, size, inner] view (src/cpu/index_cpu.cpp):
// index_select / gather (any dtype: elements move by size) and their adjoints index_add /
// scatter_add (f32/f64, atomicAdd, so repeated indices accumulate).
//
// Bad indices never touch memory outside the tensors: an IndexCheck validates the index array on
// the device, the gathering kernels clamp a bad index into range (the output is then discarded
// by the error) and the accumulating kernels skip it; after the kernels the host waits for the
// check and throws the CPU's message naming the kernel, the bad index and its position.
#include "cuda_common.cuh"
#include "cuda_convert.cuh"

namespace sadanet::cuda {
namespace {

__device__ __forceinline__ int64_t clamp_index(int64_t v, int64_t size) { return v < 0 ? 0 : (v >= size ? size - 1 : v); }

// out[o, j, i] = x[o, index[j], i]; out has outer * m * inner elements.
template <class U>
__global__ void index_select_kernel(const U* __restrict__ x, const int64_t* __restrict__ index, int64_t total, int64_t m,
                                    int64_t dim_size, int64_t inner, U* __restrict__ out) {
  SADANET_GRID_STRIDE(int64_t, k, total) {
    const int64_t i = k % inner, row = k / inner;
    const int64_t j = row % m, o = row / m;
    out[k] = x[(o * dim_size + clamp_index(index[j], dim_size)) * inner + i];
  }
}

// grad_x[o, index[j], i] += grad_out[o, j, i].
template <class T>
__global__ void index_add_kernel(const T* __restrict__ g, const int64_t* __restrict__ index, int64_t total, int64_t m,
                                 int64_t dim_size, int64_t inner, T* __restrict__ gx) {
  SADANET_GRID_STRIDE(int64_t, k, total) {
    const int64_t i = k % inner, row = k / inner;
    const int64_t j = row % m, o = row / m;
    const int64_t v = index[j];
    if (v < 0 || v >= dim_size) continue;
    atomicAdd(gx + (o * dim_size + v) * inner + i, g[k]);
  }
}

// out[o, j, i] = x[o, index[o, j, i], i]; out and index have outer * d_index * inner elements.
template <class U>
__global__ void gather_kernel(const U* __restrict__ x, const int64_t* __restrict__ index, int64_t total, int64_t d,
                              int64_t d_index, int64_t inner, U* __restrict__ out) {
  SADANET_GRID_STRIDE(int64_t, k, total) {
    const int64_t o = k / (d_index * inner), i = k % inner;
    out[k] = x[(o * d + clamp_index(index[k], d)) * inner + i];
  }
}

// grad_x[o, index[o, j, i], i] += grad_out[o, j, i].
template <class T>
__global__ void scatter_add_kernel(const T* __restrict__ g, const int64_t* __restrict__ index, int64_t total, int64_t d,
                                   int64_t d_index, int64_t inner, T* __restrict__ gx) {
  SADANET_GRID_STRIDE(int64_t, k, total) {
    const int64_t v = index[k];
    if (v < 0 || v >= d) continue;
    const int64_t o = k / (d_index * inner), i = k % inner;
    atomicAdd(gx + (o * d + v) * inner + i, g[k]);
  }
}

// ---- host side --------------------------------------------------------------------------------------

void check_contig(const char* kernel, const Tensor& t, int64_t numel, const char* what) {
  SADANET_CHECK(dense(t) && t.numel() == numel, kernel, ": expected ", what, " contiguous with ", numel,
                " elements, got shape ", shape_str(t.shape()));
  check_on_cuda(kernel, t, what);
}

const int64_t* index_ptr(const char* kernel, const Tensor& index) {
  SADANET_CHECK(index.dtype() == DType::i64 && dense(index), kernel,
                ": expected a contiguous i64 index, got ", dtype_name(index.dtype()));
  check_on_cuda(kernel, index, "index");
  return static_cast<const int64_t*>(index.raw_data());
}

void throw_if_bad(const char* kernel, const IndexCheck& check, int64_t size) {
  int64_t pos = 0, v = 0;
  if (check.first_bad(pos, v))
    throw Error(detail::concat(kernel, ": index ", v, " (at position ", pos, ") is out of range for a dimension of size ",
                               size));
}

void index_select_cuda(const Tensor& x, int64_t outer, int64_t dim_size, int64_t inner, const Tensor& index,
                       Tensor& out) {
  const int64_t m = index.numel();
  check_contig("index_select", x, outer * dim_size * inner, "x");
  check_contig("index_select", out, outer * m * inner, "out");
  SADANET_CHECK(x.dtype() == out.dtype(), "index_select: x and out dtypes differ");
  const int64_t* idx = index_ptr("index_select", index);
  DeviceGuard guard(x.device());
  IndexCheck check("index_select", idx, m, dim_size);
  const int64_t total = out.numel();
  if (total > 0 && dim_size > 0) {  // dim_size == 0 with indices: all bad, reported below
    dispatch_by_size(dtype_size(x.dtype()), "index_select", [&]<class U>() {
      SADANET_LAUNCH((grid_for(total), kThreads, 0, current_stream()), index_select_kernel<U>)(
          static_cast<const U*>(x.raw_data()), idx, total, m, dim_size, inner, static_cast<U*>(out.raw_data()));
    });
  }
  throw_if_bad("index_select", check, dim_size);
}

void index_add_cuda(const Tensor& grad_out, int64_t outer, int64_t dim_size, int64_t inner, const Tensor& index,
                    Tensor& grad_x) {
  const int64_t m = index.numel();
  check_contig("index_add", grad_out, outer * m * inner, "grad_out");
  check_contig("index_add", grad_x, outer * dim_size * inner, "grad_x");
  SADANET_CHECK(grad_out.dtype() == grad_x.dtype(), "index_add: grad_out and grad_x dtypes differ");
  const int64_t* idx = index_ptr("index_add", index);
  dispatch_floating(grad_x.dtype(), "index_add", [&]<class T>() {
    DeviceGuard guard(grad_x.device());
    IndexCheck check("index_add", idx, m, dim_size);
    const int64_t total = grad_out.numel();
    if (total > 0) {
      SADANET_LAUNCH((grid_for(total), kThreads, 0, current_stream()), index_add_kernel<T>)(
          static_cast<const T*>(grad_out.raw_data()), idx, total, m, dim_size, inner, static_cast<T*>(grad_x.raw_data()));
    }
    throw_if_bad("index_add", check, dim_size);
  });
}

void gather_cuda(const Tensor& x, const Tensor& index, int64_t outer, int64_t d, int64_t d_index, int64_t inner,
                 Tensor& out) {
  check_contig("gather", x, outer * d * inner, "x");
  check_contig("gather", index, outer * d_index * inner, "index");
  check_contig("gather", out, outer * d_index * inner, "out");
  SADANET_CHECK(x.dtype() == out.dtype(), "gather: x and out dtypes differ");
  const int64_t* idx = index_ptr("gather", index);
  DeviceGuard guard(x.device());
  const int64_t total = out.numel();
  IndexCheck check("gather", idx, total, d);
  if (total > 0 && d > 0) {
    dispatch_by_size(dtype_size(x.dtype()), "gather", [&]<class U>() {
      SADANET_LAUNCH((grid_for(total), kThreads, 0, current_stream()), gather_kernel<U>)(
          static_cast<const U*>(x.raw_data()), idx, total, d, d_index, inner, static_cast<U*>(out.raw_data()));
    });
  }
  throw_if_bad("gather", check, d);
}

void scatter_add_cuda(const Tensor& grad_out, const Tensor& index, int64_t outer, int64_t d, int64_t d_index,
                      int64_t inner, Tensor& grad_x) {
  check_contig("scatter_add", grad_out, outer * d_index * inner, "grad_out");
  check_contig("scatter_add", index, outer * d_index * inner, "index");
  check_contig("scatter_add", grad_x, outer * d * inner, "grad_x");
  SADANET_CHECK(grad_out.dtype() == grad_x.dtype(), "scatter_add: grad_out and grad_x dtypes differ");
  const int64_t* idx = index_ptr("scatter_add", index);
  dispatch_floating(grad_x.dtype(), "scatter_add", [&]<class T>() {
    DeviceGuard guard(grad_x.device());
    const int64_t total = grad_out.numel();
    IndexCheck check("scatter_add", idx, total, d);
    if (total > 0) {
      SADANET_LAUNCH((grid_for(total), kThreads, 0, current_stream()), scatter_add_kernel<T>)(
          static_cast<const T*>(grad_out.raw_data()), idx, total, d, d_index, inner, static_cast<T*>(grad_x.raw_data()));
    }
    throw_if_bad("scatter_add", check, d);
  });
}

}  // namespace
}  // namespace sadanet::cuda

namespace sadanet {
SADANET_REGISTER_KERNEL(index_select, DeviceType::cuda, &cuda::index_select_cuda);
SADANET_REGISTER_KERNEL(index_add, DeviceType::cuda, &cuda::index_add_cuda);
SADANET_REGISTER_KERNEL(gather, DeviceType::cuda, &cuda::gather_cuda);
SADANET_REGISTER_KERNEL(scatter_add, DeviceType::cuda, &cuda::scatter_add_cuda);
}  // namespace sadanet
