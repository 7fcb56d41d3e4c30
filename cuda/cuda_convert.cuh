// Element types and conversions for the CUDA copy/fill/arange kernels, written to give the same
// bits as the CPU backend (src/cpu/cpu_utils.h to_double/from_double and src/core/dtype.cpp):
// every conversion goes through double, bf16/f16 round to nearest even with the same NaN and
// overflow rules, float -> integer truncates toward zero and saturates (NaN -> INT64_MIN), and
// narrow integers wrap from int64.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "sadanet/dtype.h"
#include "sadanet/error.h"

namespace sadanet::cuda {

// Device-side storage types for the 16-bit floats (sadanet::bf16/f16 have host-only methods).
struct bf16_t { uint16_t bits; };
struct f16_t { uint16_t bits; };

__host__ __device__ __forceinline__ float bits_to_float(uint32_t u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}
__host__ __device__ __forceinline__ uint32_t float_to_bits(float f) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}

// sadanet::bf16(float) / operator float.
__host__ __device__ __forceinline__ uint16_t float_to_bf16_bits(float f) {
  uint32_t u = float_to_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
__host__ __device__ __forceinline__ float bf16_bits_to_float(uint16_t b) {
  return bits_to_float(static_cast<uint32_t>(b) << 16);
}

// sadanet::half_to_float / float_to_half (src/core/dtype.cpp), line for line.
__host__ __device__ __forceinline__ float half_bits_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, u;
  if (exp == 0) {
    if (mant == 0) {
      u = sign;
    } else {
      exp = 127 - 15 + 1;
      while (!(mant & 0x400u)) { mant <<= 1; --exp; }
      mant &= 0x3ffu;
      u = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 0x1f) {
    u = sign | 0x7f800000u | (mant << 13);
  } else {
    u = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  return bits_to_float(u);
}
__host__ __device__ __forceinline__ uint16_t float_to_half_bits(float f) {
  uint32_t u = float_to_bits(f);
  uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00u;
  if (abs >= 0x477ff000u) return sign | 0x7c00u;
  if (abs < 0x38800000u) {
    if (abs < 0x33000000u) return sign;
    uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
    int shift = 126 - static_cast<int>(abs >> 23);
    uint32_t half_mant = mant >> (shift);
    uint32_t rem = mant & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (half_mant & 1u))) ++half_mant;
    return sign | static_cast<uint16_t>(half_mant);
  }
  uint32_t r = abs + 0xfffu + ((abs >> 13) & 1u) - (112u << 23);
  return sign | static_cast<uint16_t>(r >> 13);
}

// ---- to_double / from_double, as src/cpu/cpu_utils.h ---------------------------------------------

template <class T> __host__ __device__ __forceinline__ double to_double(T v) { return static_cast<double>(v); }
template <> __host__ __device__ __forceinline__ double to_double<float>(float v) { return static_cast<double>(v); }
template <> __host__ __device__ __forceinline__ double to_double<bf16_t>(bf16_t v) {
  return static_cast<double>(bf16_bits_to_float(v.bits));
}
template <> __host__ __device__ __forceinline__ double to_double<f16_t>(f16_t v) {
  return static_cast<double>(half_bits_to_float(v.bits));
}

template <class T> __host__ __device__ __forceinline__ T from_double(double v);
template <> __host__ __device__ __forceinline__ float from_double<float>(double v) { return static_cast<float>(v); }
template <> __host__ __device__ __forceinline__ double from_double<double>(double v) { return v; }
template <> __host__ __device__ __forceinline__ bf16_t from_double<bf16_t>(double v) {
  return bf16_t{float_to_bf16_bits(static_cast<float>(v))};
}
template <> __host__ __device__ __forceinline__ f16_t from_double<f16_t>(double v) {
  return f16_t{float_to_half_bits(static_cast<float>(v))};
}
template <> __host__ __device__ __forceinline__ int64_t from_double<int64_t>(double v) {
  if (!(v > -9.2e18)) return INT64_MIN;
  if (v > 9.2e18) return INT64_MAX;
  return static_cast<int64_t>(v);
}
template <> __host__ __device__ __forceinline__ int32_t from_double<int32_t>(double v) {
  return static_cast<int32_t>(static_cast<uint32_t>(from_double<int64_t>(v)));
}
template <> __host__ __device__ __forceinline__ uint8_t from_double<uint8_t>(double v) {
  return static_cast<uint8_t>(static_cast<uint64_t>(from_double<int64_t>(v)));
}

template <class S, class D> __host__ __device__ __forceinline__ D convert(S v) {
  if constexpr (std::is_same_v<S, D>) return v;
  else return from_double<D>(to_double<S>(v));
}

// Every dtype, for copies and fills and arange.
template <class Fn> void dispatch_all(DType t, Fn&& fn) {
  switch (t) {
    case DType::f32: fn.template operator()<float>(); return;
    case DType::f64: fn.template operator()<double>(); return;
    case DType::bf16: fn.template operator()<bf16_t>(); return;
    case DType::f16: fn.template operator()<f16_t>(); return;
    case DType::i32: fn.template operator()<int32_t>(); return;
    case DType::i64: fn.template operator()<int64_t>(); return;
    case DType::u8: fn.template operator()<uint8_t>(); return;
  }
  throw Error(detail::concat("cuda: unknown dtype ", static_cast<int>(t)));
}

// Unsigned integer of each element size: kernels that only move elements use these.
template <class Fn> void dispatch_by_size(size_t bytes, const char* kernel, Fn&& fn) {
  switch (bytes) {
    case 1: fn.template operator()<uint8_t>(); return;
    case 2: fn.template operator()<uint16_t>(); return;
    case 4: fn.template operator()<uint32_t>(); return;
    case 8: fn.template operator()<uint64_t>(); return;
    default: throw Error(detail::concat(kernel, ": unsupported element size ", bytes));
  }
}

}  // namespace sadanet::cuda
