// TF32 as the fake cuBLAS and cuDNN model it: what the matrix units do to f32 inputs when TF32
// is allowed, and NVIDIA's switch that forbids it everywhere.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace cuda_sim {

// NVIDIA_TF32_OVERRIDE=0 disables TF32 in cuBLAS and cuDNN (documented for both).
inline bool tf32_allowed_by_environment() {
  const char* v = std::getenv("NVIDIA_TF32_OVERRIDE");
  return !(v && std::strcmp(v, "0") == 0);
}

// f32 -> TF32 (1 + 8 + 10 bits), round to nearest even; the value stays an f32 with its 13 low
// mantissa bits cleared. Works for subnormals too (same 2^-136 grid); NaN and inf pass through.
inline float round_to_tf32(float v) {
  uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  if ((u & 0x7f800000u) == 0x7f800000u) return v;
  u += 0x0fffu + ((u >> 13) & 1u);
  u &= ~0x1fffu;
  std::memcpy(&v, &u, sizeof v);
  return v;
}

}  // namespace cuda_sim
