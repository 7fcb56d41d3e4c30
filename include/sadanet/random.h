// Seeded counter-based random numbers (Philox-4x32-10). Each call to a random op takes the next
// counter "offset" from its generator; element i of that call is a pure function of
// (seed, offset, i), so the CPU and CUDA backends produce the same numbers and a seed reproduces
// a run. The generator's whole state is (seed, offset): a checkpoint saves and restores it.
#pragma once
#include <array>
#include <cstdint>

#include "sadanet/tensor.h"

namespace sadanet {




class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) { seed_ = seed; offset_ = offset; }
  void manual_seed(uint64_t seed) { seed_ = seed; offset_ = 0; }
  uint64_t take_offset() { return offset_++; }  // one per random op call
 private:
  uint64_t seed_ = 0;
  uint64_t offset_ = 0;
};

Generator& default_generator();
void manual_seed(uint64_t seed);

// Parameters shared by every backend's random kernels.
struct PhiloxCall {
  uint64_t seed = 0;
  uint64_t offset = 0;
};
// The element-wise scheme, written once for every backend (host/device annotations added by the
// CUDA backend through this macro):
//  uniform: element i takes word i%4 of block (counter = {i/4 lo, i/4 hi, offset lo, offset hi});
//           u = (word >> 8) * 2^-24 in [0, 1).
//  normal:  element i takes words 2(i%2), 2(i%2)+1 of block i/2: Box-Muller with
//           u1 = (w0 >> 8 + 1) * 2^-24 in (0, 1], u2 = (w1 >> 8) * 2^-24; z = sqrt(-2 ln u1) cos(2 pi u2).

Tensor rand(const Shape& shape, const TensorOptions& opts = {}, Generator* gen = nullptr);   // U[0,1)
Tensor randn(const Shape& shape, const TensorOptions& opts = {}, Generator* gen = nullptr);  // N(0,1)
Tensor uniform(const Shape& shape, double lo, double hi, const TensorOptions& opts = {}, Generator* gen = nullptr);
Tensor normal(const Shape& shape, double mean, double std, const TensorOptions& opts = {}, Generator* gen = nullptr);
Tensor bernoulli(const Shape& shape, double p, const TensorOptions& opts = {}, Generator* gen = nullptr);  // 1 with prob p
Tensor randperm(int64_t n, const TensorOptions& opts = TensorOptions(DType::i64), Generator* gen = nullptr);
// In place, for initialisers.
Tensor& uniform_(Tensor& t, double lo, double hi, Generator* gen = nullptr);
Tensor& normal_(Tensor& t, double mean, double std, Generator* gen = nullptr);

}  // namespace sadanet
