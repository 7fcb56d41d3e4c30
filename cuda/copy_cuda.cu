// CUDA copy (strided, converting among every dtype), fill (strided) and arange. Conversions give
// the CPU backend's bits (cuda_convert.cuh).
#include <cstring>

#include "cuda_common.cuh"
#include "cuda_convert.cuh"

namespace sadanet::cuda {
namespace {

// ---- kernels -------------------------------------------------------------------------------------

// Same dtype, any layout: elements move as unsigned integers of their size. Operand 0 is dst.
template <class U, class I>
__global__ void move_strided_kernel(const U* __restrict__ src, U* __restrict__ dst, I n, StridedIndexer<2> ix) {
  SADANET_GRID_STRIDE(I, i, n) {
    int64_t off[2];
    ix.offsets(i, off);
    dst[off[0]] = src[off[1]];
  }
}

template <class S, class D>
__global__ void convert_contig_kernel(const S* __restrict__ src, D* __restrict__ dst, int64_t n) {
  SADANET_GRID_STRIDE(int64_t, i, n) dst[i] = convert<S, D>(src[i]);
}

template <class S, class D>
__global__ void convert_strided_kernel(const S* __restrict__ src, D* __restrict__ dst, int64_t n,
                                       StridedIndexer<2> ix) {
  SADANET_GRID_STRIDE(int64_t, i, n) {
    int64_t off[2];
    ix.offsets(i, off);
    dst[off[0]] = convert<S, D>(src[off[1]]);
  }
}

template <class U> __global__ void fill_contig_kernel(U* __restrict__ dst, int64_t n, U value) {
  SADANET_GRID_STRIDE(int64_t, i, n) dst[i] = value;
}

template <class U, class I> __global__ void fill_strided_kernel(U* __restrict__ dst, I n, StridedIndexer<1> ix, U value) {
  SADANET_GRID_STRIDE(I, i, n) {
    int64_t off[1];
    ix.offsets(i, off);
    dst[off[0]] = value;
  }
}

// start + i * step in double without a fused multiply-add, as the CPU computes it.
template <class D> __global__ void arange_kernel(D* __restrict__ dst, int64_t n, double start, double step) {
  SADANET_GRID_STRIDE(int64_t, i, n) dst[i] = from_double<D>(__dadd_rn(start, __dmul_rn(static_cast<double>(i), step)));
}

// ---- host side -----------------------------------------------------------------------------------

void copy_cuda(const Tensor& src, Tensor& dst) {
  SADANET_CHECK(src.shape() == dst.shape(), "copy: shape ", shape_str(src.shape()), " onto ", shape_str(dst.shape()));
  check_on_cuda("copy", src, "src");
  check_on_cuda("copy", dst, "dst");
  SADANET_CHECK(src.device() == dst.device(), "copy: src on ", src.device().str(), " and dst on ", dst.device().str(),
                " (cross-device copies go through transfer)");
  const int64_t n = src.numel();
  if (n == 0) return;
  DeviceGuard guard(dst.device());
  cudaStream_t stream = current_stream();
  const auto ix = make_indexer<2>("copy", dst.shape(), {&dst.strides(), &src.strides()});
  if (src.dtype() == dst.dtype() && ix.contiguous()) {  // both one dense run
    SADANET_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), src.nbytes(), cudaMemcpyDeviceToDevice, stream));
    return;
  }
  if (src.dtype() == dst.dtype()) {
    dispatch_by_size(dtype_size(src.dtype()), "copy", [&]<class U>() {
      const U* s = static_cast<const U*>(src.raw_data());
      U* d = static_cast<U*>(dst.raw_data());
      if (use_32bit_index(n))
        SADANET_LAUNCH((grid_for(n), kThreads, 0, stream), move_strided_kernel<U, uint32_t>)(s, d, static_cast<uint32_t>(n), ix);
      else
        SADANET_LAUNCH((grid_for(n), kThreads, 0, stream), move_strided_kernel<U, int64_t>)(s, d, n, ix);
    });
    return;
  }
  dispatch_all(src.dtype(), [&]<class S>() {
    dispatch_all(dst.dtype(), [&]<class D>() {
      const S* s = static_cast<const S*>(src.raw_data());
      D* d = static_cast<D*>(dst.raw_data());
      if (ix.contiguous()) {
        SADANET_LAUNCH((grid_for(n), kThreads, 0, stream), convert_contig_kernel<S, D>)(s, d, n);
      } else {
        SADANET_LAUNCH((grid_for(n), kThreads, 0, stream), convert_strided_kernel<S, D>)(s, d, n, ix);
      }
    });
  });
}

void fill_cuda(Tensor& dst, double v) {
  check_on_cuda("fill", dst, "dst");
  const int64_t n = dst.numel();
  if (n == 0) return;
  DeviceGuard guard(dst.device());
  cudaStream_t stream = current_stream();
  // The value's bits in dst's dtype, converted on the host exactly as the device would.
  uint64_t bits = 0;
  dispatch_all(dst.dtype(), [&]<class D>() {
    const D value = from_double<D>(v);
    std::memcpy(&bits, &value, sizeof(D));
  });
  const auto ix = make_indexer<1>("fill", dst.shape(), {&dst.strides()});
  if (bits == 0 && ix.contiguous()) {
    SADANET_CUDA_CHECK(cudaMemsetAsync(dst.raw_data(), 0, dst.nbytes(), stream));
    return;
  }
  dispatch_by_size(dtype_size(dst.dtype()), "fill", [&]<class U>() {
    U value;
    std::memcpy(&value, &bits, sizeof(U));  // little-endian: the low bytes hold the value
    U* d = static_cast<U*>(dst.raw_data());
    if (ix.contiguous()) {
      SADANET_LAUNCH((grid_for(n), kThreads, 0, stream), fill_contig_kernel<U>)(d, n, value);
    } else if (use_32bit_index(n)) {
      SADANET_LAUNCH((grid_for(n), kThreads, 0, stream), fill_strided_kernel<U, uint32_t>)(d, static_cast<uint32_t>(n), ix, value);
    } else {
      SADANET_LAUNCH((grid_for(n), kThreads, 0, stream), fill_strided_kernel<U, int64_t>)(d, n, ix, value);
    }
  });
}

void arange_cuda(Tensor& dst, double start, double step) {
  check_on_cuda("arange", dst, "dst");
  SADANET_CHECK(dense(dst), "arange: expected a contiguous output");
  const int64_t n = dst.numel();
  if (n == 0) return;
  DeviceGuard guard(dst.device());
  dispatch_all(dst.dtype(), [&]<class D>() {
    SADANET_LAUNCH((grid_for(n), kThreads, 0, current_stream()), arange_kernel<D>)(static_cast<D*>(dst.raw_data()), n, start, step);
  });
}

}  // namespace
}  // namespace sadanet::cuda

namespace sadanet {
SADANET_REGISTER_KERNEL(copy, DeviceType::cuda, &cuda::copy_cuda);
SADANET_REGISTER_KERNEL(fill, DeviceType::cuda, &cuda::fill_cuda);
SADANET_REGISTER_KERNEL(arange, DeviceType::cuda, &cuda::arange_cuda);
}  // namespace sadanet
