// CUDA random fills with the shared Philox scheme (src/kernels/philox.h): element i of a call is
// a pure function of (seed, offset, i), computed by the same code as the CPU backend, so both
// give the same numbers (uniform and bits bit for bit; normal to the last bit of f32, see
// cuda/README.md for f64).
#include "cuda_common.cuh"
#include "kernels/philox.h"

namespace sadanet::cuda {
namespace {

template <class T> __global__ void uniform_kernel(T* __restrict__ dst, int64_t n, uint64_t seed, uint64_t offset) {
  SADANET_GRID_STRIDE(int64_t, i, n) dst[i] = static_cast<T>(philox::uniform(seed, offset, static_cast<uint64_t>(i)));
}

template <class T> __global__ void normal_kernel(T* __restrict__ dst, int64_t n, uint64_t seed, uint64_t offset) {
  SADANET_GRID_STRIDE(int64_t, i, n) dst[i] = static_cast<T>(philox::normal(seed, offset, static_cast<uint64_t>(i)));
}

// The raw 32-bit word as an unsigned value: zero-extended into i64, wrapped into i32, its low
// byte into u8.
template <class D> __global__ void bits_kernel(D* __restrict__ dst, int64_t n, uint64_t seed, uint64_t offset) {
  SADANET_GRID_STRIDE(int64_t, i, n) dst[i] = static_cast<D>(philox::bits(seed, offset, static_cast<uint64_t>(i)));
}

void check_dst(const char* kernel, const Tensor& dst) {
  check_on_cuda(kernel, dst, "dst");
  SADANET_CHECK(dense(dst), kernel, ": expected a contiguous tensor (the scheme numbers elements in memory order)");
}

void uniform_cuda(Tensor& dst, PhiloxCall c) {
  check_dst("random_uniform", dst);
  const int64_t n = dst.numel();
  dispatch_floating(dst.dtype(), "random_uniform", [&]<class T>() {
    if (n == 0) return;
    DeviceGuard guard(dst.device());
    SADANET_LAUNCH((grid_for(n), kThreads, 0, current_stream()), uniform_kernel<T>)(static_cast<T*>(dst.raw_data()), n, c.seed, c.offset);
  });
}

void normal_cuda(Tensor& dst, PhiloxCall c) {
  check_dst("random_normal", dst);
  const int64_t n = dst.numel();
  dispatch_floating(dst.dtype(), "random_normal", [&]<class T>() {
    if (n == 0) return;
    DeviceGuard guard(dst.device());
    SADANET_LAUNCH((grid_for(n), kThreads, 0, current_stream()), normal_kernel<T>)(static_cast<T*>(dst.raw_data()), n, c.seed, c.offset);
  });
}

void bits_cuda(Tensor& dst, PhiloxCall c) {
  check_dst("random_bits", dst);
  const int64_t n = dst.numel();
  auto launch = [&]<class D>() {
    if (n == 0) return;
    DeviceGuard guard(dst.device());
    SADANET_LAUNCH((grid_for(n), kThreads, 0, current_stream()), bits_kernel<D>)(static_cast<D*>(dst.raw_data()), n, c.seed, c.offset);
  };
  switch (dst.dtype()) {
    case DType::i64: launch.template operator()<int64_t>(); return;
    case DType::i32: launch.template operator()<int32_t>(); return;
    case DType::u8: launch.template operator()<uint8_t>(); return;
    default:
      throw Error(detail::concat("random_bits: CUDA kernel supports i64, i32 and u8, got ", dtype_name(dst.dtype())));
  }
}

}  // namespace
}  // namespace sadanet::cuda

namespace sadanet {
SADANET_REGISTER_KERNEL(random_uniform, DeviceType::cuda, &cuda::uniform_cuda);
SADANET_REGISTER_KERNEL(random_normal, DeviceType::cuda, &cuda::normal_cuda);
SADANET_REGISTER_KERNEL(random_bits, DeviceType::cuda, &cuda::bits_cuda);
}  // namespace sadanet
