// The gate of every CUDA test: skip with the reason where no GPU can be used, or, with
// SADANET_REQUIRE_GPU=1 in the environment (a GPU machine's check, tools/gpu/check.sh), fail
// instead, so that a run that tested nothing cannot pass.
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "sadanet/runtime.h"

namespace sadanet::test {

inline bool gpu_required() {
  const char* v = std::getenv("SADANET_REQUIRE_GPU");
  return v && std::strcmp(v, "1") == 0;
}

}  // namespace sadanet::test

// In a test body: returns from it (skipped, or failed under SADANET_REQUIRE_GPU=1) when CUDA
// cannot run here.
#define SADANET_REQUIRE_CUDA()                                                                \
  do {                                                                                        \
    const std::string sadanet_why_ = ::sadanet::cuda_unavailable_reason();                    \
    if (!sadanet_why_.empty()) {                                                              \
      if (::sadanet::test::gpu_required()) FAIL() << "SADANET_REQUIRE_GPU=1: " << sadanet_why_; \
      GTEST_SKIP() << sadanet_why_;                                                           \
    }                                                                                         \
  } while (0)
