// When a batch of GEMM products goes one whole product per thread (each single-threaded) instead
// of one product at a time split across the threads: the products are small (splitting one does
// not pay) or the batch divides evenly among the threads. Whole products per thread also avoid
// threads waiting on each other inside a product, which measured badly on the shared 2-core
// machine (bench/README.md). Shared by the Eigen builds (gemm_eigen.inl) and the hand-written
// kernel (sgemm_avx2.cpp).
//
// Internal linkage on purpose: this header is compiled into the AVX2 translation units too, and
// an AVX2-compiled copy of a shared inline function could be the one the linker keeps.
#pragma once
#include <cstdint>

#include "kernels/kernels.h"

namespace {

// Products at or above this many flops are split themselves when the batch does not divide evenly.
constexpr double kBatchSplitFlops = 8.0e6;

// `threads`: the team available (1 inside a parallel region). `min_total_flops`: less work in the
// whole batch stays on one thread (waking the team costs more).
inline bool split_batch_across_threads(const sadanet::GemmArgs& g, int threads, double min_total_flops) {
  const double flops = 2.0 * static_cast<double>(g.m) * static_cast<double>(g.n) * static_cast<double>(g.k);
  const bool even = g.batch % threads == 0 || g.batch >= 4 * threads;
  // stride_c == 0 would make the batch accumulate into one C: keep that sequential.
  return g.batch > 1 && g.stride_c != 0 && threads > 1 && flops * static_cast<double>(g.batch) >= min_total_flops &&
         (flops < kBatchSplitFlops || even);
}

}  // namespace
