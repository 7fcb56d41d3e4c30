// Input checks shared by the conv/pool/batch_norm/linalg op definitions: every message names
// the op, what it expected and what it got.
#pragma once
#include <initializer_list>
#include <utility>

#include "sadanet/tensor.h"

namespace sadanet::ops_detail {

inline void check_defined(const char* op, const Tensor& t, const char* name) {
  SADANET_CHECK(t.defined(), op, ": expected a defined tensor for ", name, ", got an undefined one");
}

inline void check_floating(const char* op, const Tensor& t, const char* name) {
  SADANET_CHECK(is_floating(t.dtype()), op, ": expected ", name, " of a floating dtype, got ", dtype_name(t.dtype()));
}

inline void check_dim(const char* op, const Tensor& t, const char* name, int64_t want) {
  SADANET_CHECK(t.dim() == want, op, ": expected ", name, " to be ", want, "-D, got shape ", shape_str(t.shape()));
}

// Every defined tensor in `ts` shares the first one's dtype and device.
inline void check_same(const char* op, std::initializer_list<std::pair<const Tensor*, const char*>> ts) {
  const Tensor* first = nullptr;
  const char* first_name = nullptr;
  for (auto& [t, name] : ts) {
    if (!t->defined()) continue;
    if (!first) { first = t; first_name = name; continue; }
    SADANET_CHECK(t->device() == first->device(), op, ": expected ", name, " on ", first_name, "'s device ",
                  first->device().str(), ", got ", t->device().str());
    SADANET_CHECK(t->dtype() == first->dtype(), op, ": expected ", name, " of ", first_name, "'s dtype ",
                  dtype_name(first->dtype()), ", got ", dtype_name(t->dtype()));
  }
}

}  // namespace sadanet::ops_detail
