// Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), shared
// by every backend so that one seed gives the same numbers on the CPU and the GPU.
#pragma once
#include <cstdint>

#ifdef __CUDACC__
#define SADANET_HD __host__ __device__ __forceinline__
#else
#define SADANET_HD inline
#endif

namespace sadanet::philox {

struct U4 { uint32_t x, y, z, w; };

SADANET_HD uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t p = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

SADANET_HD U4 block(U4 c, uint32_t k0, uint32_t k1) {
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo(0xD2511F53u, c.x, &hi0);
    uint32_t lo1 = mulhilo(0xCD9E8D57u, c.z, &hi1);
    c = U4{hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0};
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return c;
}

// Block `b` of call `offset` under `seed`.
SADANET_HD U4 block_at(uint64_t seed, uint64_t offset, uint64_t b) {
  return block(U4{static_cast<uint32_t>(b), static_cast<uint32_t>(b >> 32), static_cast<uint32_t>(offset),
                  static_cast<uint32_t>(offset >> 32)},
               static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

SADANET_HD uint32_t word(const U4& v, int i) { return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w; }

// Element i of a uniform call: [0, 1) with 24 random bits.
SADANET_HD float uniform(uint64_t seed, uint64_t offset, uint64_t i) {
  U4 v = block_at(seed, offset, i / 4);
  return static_cast<float>(word(v, static_cast<int>(i % 4)) >> 8) * (1.0f / 16777216.0f);
}
SADANET_HD uint32_t bits(uint64_t seed, uint64_t offset, uint64_t i) {
  return word(block_at(seed, offset, i / 4), static_cast<int>(i % 4));
}
// Element i of a normal call (Box-Muller on words 2(i%2), 2(i%2)+1 of block i/2), computed in
// double so that backends agree to the last float bit.
SADANET_HD double normal(uint64_t seed, uint64_t offset, uint64_t i) {
  U4 v = block_at(seed, offset, i / 2);
  int j = static_cast<int>(i % 2) * 2;
  double u1 = (static_cast<double>(word(v, j) >> 8) + 1.0) * (1.0 / 16777216.0);
  double u2 = static_cast<double>(word(v, j + 1) >> 8) * (1.0 / 16777216.0);
  const double two_pi = 6.283185307179586476925286766559;
#ifdef __CUDA_ARCH__
  return ::sqrt(-2.0 * ::log(u1)) * ::cos(two_pi * u2);
#else
  return __builtin_sqrt(-2.0 * __builtin_log(u1)) * __builtin_cos(two_pi * u2);
#endif
}

}  // namespace sadanet::philox
