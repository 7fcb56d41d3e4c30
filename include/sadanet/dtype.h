// Element types. f32/f64 compute on the CPU (f64 exists for finite-difference gradient checks);
// bf16/f16 are storage and conversion types for now; i32/i64/u8 hold indices, labels and images.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

namespace sadanet {

enum class DType : uint8_t { f32, f64, bf16, f16, i32, i64, u8 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);
DType dtype_from_name(const std::string& name);  // throws on an unknown name
inline bool is_floating(DType t) {
  return t == DType::f32 || t == DType::f64 || t == DType::bf16 || t == DType::f16;
}

// IEEE half and bfloat16 with round-to-nearest-even conversion.
struct bf16 {
  uint16_t bits = 0;
  bf16() = default;
  explicit bf16(float f);
  explicit operator float() const;
};
struct f16 {
  uint16_t bits = 0;
  f16() = default;
  explicit f16(float f);
  explicit operator float() const;
};

inline bf16::bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) {  // NaN stays a (quiet) NaN
    bits = static_cast<uint16_t>((u >> 16) | 0x40);
    return;
  }
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest, ties to even
  bits = static_cast<uint16_t>(u >> 16);
}
inline bf16::operator float() const {
  uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
inline f16::f16(float f) : bits(float_to_half(f)) {}
inline f16::operator float() const { return half_to_float(bits); }

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::f64; };
template <> struct dtype_of<bf16> { static constexpr DType value = DType::bf16; };
template <> struct dtype_of<f16> { static constexpr DType value = DType::f16; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::i32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::i64; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::u8; };

}  // namespace sadanet
