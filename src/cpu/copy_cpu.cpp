// CPU copy (strided, converting), fill, arange and the random fills.
#include <cstring>

#include "cpu/cpu_utils.h"
#include "kernels/kernels.h"
#include "kernels/philox.h"

namespace sadanet {
namespace {

template <class S, class D> inline D convert(S v) {
  if constexpr (std::is_same_v<S, D>) return v;
  else return cpu::from_double<D>(cpu::to_double<S>(v));
}

// Calls fn(dst_offset, src_offset, n, dst_inner_stride, src_inner_stride) for each run along the
// last dimension of `shape`.
template <class Fn>
void for_each_row2(const Shape& shape, const Shape& st_a, int64_t base_a, const Shape& st_b, int64_t base_b, Fn&& fn) {
  const int64_t nd = static_cast<int64_t>(shape.size());
  if (nd == 0) { fn(base_a, base_b, int64_t{1}, int64_t{1}, int64_t{1}); return; }
  for (auto s : shape) if (s == 0) return;
  const int64_t rows = shape_numel(shape) / shape[nd - 1];
  cpu::parallel_for(rows, std::max<int64_t>(1, 16384 / shape[nd - 1]), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t oa = base_a, ob = base_b, rem = r;
      for (int64_t d = nd - 2; d >= 0; --d) {
        int64_t i = rem % shape[d];
        rem /= shape[d];
        oa += i * st_a[d];
        ob += i * st_b[d];
      }
      fn(oa, ob, shape[nd - 1], st_a[nd - 1], st_b[nd - 1]);
    }
  });
}

void copy_cpu(const Tensor& src, Tensor& dst) {
  SADANET_CHECK(src.shape() == dst.shape(), "copy: shape ", shape_str(src.shape()), " onto ", shape_str(dst.shape()));
  if (src.numel() == 0) return;
  if (src.dtype() == dst.dtype() && src.is_contiguous() && dst.is_contiguous()) {
    std::memcpy(dst.raw_data(), src.raw_data(), src.nbytes());
    return;
  }
  cpu::dispatch_all(src.dtype(), [&]<class S>() {
    cpu::dispatch_all(dst.dtype(), [&]<class D>() {
      const S* s = static_cast<const S*>(src.storage()->data());
      D* d = static_cast<D*>(dst.storage()->data());
      for_each_row2(dst.shape(), dst.strides(), dst.offset(), src.strides(), src.offset(),
                    [&](int64_t od, int64_t os, int64_t n, int64_t sd, int64_t ss) {
                      for (int64_t i = 0; i < n; ++i) d[od + i * sd] = convert<S, D>(s[os + i * ss]);
                    });
    });
  });
}

void fill_cpu(Tensor& dst, double v) {
  cpu::dispatch_all(dst.dtype(), [&]<class D>() {
    const D value = cpu::from_double<D>(v);
    D* d = static_cast<D*>(dst.storage()->data());
    for_each_row2(dst.shape(), dst.strides(), dst.offset(), dst.strides(), dst.offset(),
                  [&](int64_t od, int64_t, int64_t n, int64_t sd, int64_t) {
                    for (int64_t i = 0; i < n; ++i) d[od + i * sd] = value;
                  });
  });
}

void arange_cpu(Tensor& dst, double start, double step) {
  cpu::dispatch_all(dst.dtype(), [&]<class D>() {
    D* d = dst.data<D>();
    for (int64_t i = 0; i < dst.numel(); ++i) d[i] = cpu::from_double<D>(start + static_cast<double>(i) * step);
  });
}

template <class Gen> void random_fill(Tensor& dst, Gen&& gen) {
  cpu::dispatch_floating(dst.dtype(), "random", [&]<class T>() {
    T* d = dst.data<T>();
    cpu::parallel_for(dst.numel(), 8192, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) d[i] = static_cast<T>(gen(static_cast<uint64_t>(i)));
    });
  });
}

void uniform_cpu(Tensor& dst, PhiloxCall c) {
  random_fill(dst, [&](uint64_t i) { return philox::uniform(c.seed, c.offset, i); });
}
void normal_cpu(Tensor& dst, PhiloxCall c) {
  random_fill(dst, [&](uint64_t i) { return philox::normal(c.seed, c.offset, i); });
}
void bits_cpu(Tensor& dst, PhiloxCall c) {
  SADANET_CHECK(dst.dtype() == DType::i64, "random_bits: expected an i64 tensor, got ", dtype_name(dst.dtype()));
  int64_t* d = dst.data<int64_t>();
  for (int64_t i = 0; i < dst.numel(); ++i) d[i] = philox::bits(c.seed, c.offset, static_cast<uint64_t>(i));
}

}  // namespace

SADANET_REGISTER_KERNEL(copy, DeviceType::cpu, copy_cpu);
SADANET_REGISTER_KERNEL(fill, DeviceType::cpu, fill_cpu);
SADANET_REGISTER_KERNEL(arange, DeviceType::cpu, arange_cpu);
SADANET_REGISTER_KERNEL(random_uniform, DeviceType::cpu, uniform_cpu);
SADANET_REGISTER_KERNEL(random_normal, DeviceType::cpu, normal_cpu);
SADANET_REGISTER_KERNEL(random_bits, DeviceType::cpu, bits_cpu);

}  // namespace sadanet
