// Shapes read from files are untrusted: before a Tensor is built from one, every dimension must be
// non-negative and the product of the dimensions (zeros counted as one, as contiguous_strides
// does) must fit in int64, so that neither numel() nor the strides can overflow.
#pragma once
#include <cstdint>
#include <string>

#include "sadanet/tensor.h"

namespace sadanet::io {

constexpr size_t kMaxRank = 64;  // far beyond any real tensor; bounds the work per header entry

// Returns numel; throws naming `what` (e.g. "tensor 'fc.weight'") when the shape is unusable.
inline int64_t checked_numel(const Shape& shape, const std::string& what) {
  SADANET_CHECK(shape.size() <= kMaxRank, what, ": rank ", shape.size(), " exceeds ", kMaxRank);
  int64_t strides_product = 1, numel = 1;
  for (int64_t d : shape) {
    SADANET_CHECK(d >= 0, what, ": negative dimension in shape ", shape_str(shape));
    SADANET_CHECK(!__builtin_mul_overflow(strides_product, d > 0 ? d : 1, &strides_product), what,
                  ": shape ", shape_str(shape), " is too large");
    numel *= d;  // cannot overflow: |numel| <= strides_product
  }
  return numel;
}

// n * size in bytes, or throws when that overflows.
inline uint64_t checked_bytes(int64_t numel, size_t elem_size, const std::string& what) {
  uint64_t bytes = 0;
  SADANET_CHECK(!__builtin_mul_overflow(static_cast<uint64_t>(numel), elem_size, &bytes), what,
                ": byte size overflows");
  return bytes;
}

}  // namespace sadanet::io
