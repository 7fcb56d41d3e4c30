// Row-major (batched) GEMM for the CPU kernels, built on Eigen. See GemmArgs in kernels.h.
// Two builds of the same code exist: gemm_avx2.cpp (compiled with -mavx2 -mfma) and a portable
// one in gemm_cpu.cpp; gemm<T>() picks one at run time from the CPU's features.
#pragma once
#include "kernels/kernels.h"

namespace sadanet::cpu {

// C[b] = alpha * op(A[b]) op(B[b]) + beta * C[b]. Pointers are to the first element of batch 0.
// With beta == 0, C is not read (it may hold garbage). T = float or double.
template <class T> void gemm(const GemmArgs& g, const T* a, const T* b, T* c);  // float, double only
template <> void gemm<float>(const GemmArgs& g, const float* a, const float* b, float* c);
template <> void gemm<double>(const GemmArgs& g, const double* a, const double* b, double* c);

// True when gemm<T>() runs the AVX2+FMA build (the CPU has both and SADANET_GEMM is not
// "generic" in the environment at first use).
bool gemm_uses_avx2();

// The two builds, callable directly by tests and benchmarks (same contract as gemm<T>).
namespace gemm_impl {
void avx2_f32(const GemmArgs& g, const float* a, const float* b, float* c);
void avx2_f64(const GemmArgs& g, const double* a, const double* b, double* c);
void generic_f32(const GemmArgs& g, const float* a, const float* b, float* c);
void generic_f64(const GemmArgs& g, const double* a, const double* b, double* c);
}  // namespace gemm_impl

}  // namespace sadanet::cpu
