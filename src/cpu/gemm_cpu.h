// Row-major (batched) GEMM for the CPU kernels. See GemmArgs in kernels.h. Where the CPU has
// AVX2+FMA, f32 runs the hand-written kernel of sgemm_avx2.cpp and f64 Eigen compiled for AVX2
// (gemm_avx2.cpp); elsewhere both run Eigen's portable build (gemm_cpu.cpp). gemm<T>() picks at
// run time from the CPU's features.
#pragma once
#include "kernels/kernels.h"

namespace sadanet::cpu {

// C[b] = alpha * op(A[b]) op(B[b]) + beta * C[b]. Pointers are to the first element of batch 0.
// With beta == 0, C is not read (it may hold garbage). T = float or double.
template <class T> void gemm(const GemmArgs& g, const T* a, const T* b, T* c);  // float, double only
template <> void gemm<float>(const GemmArgs& g, const float* a, const float* b, float* c);
template <> void gemm<double>(const GemmArgs& g, const double* a, const double* b, double* c);

// True when gemm<T>() runs the AVX2+FMA builds (the CPU has both and SADANET_GEMM is not
// "generic" in the environment at first use; SADANET_GEMM=eigen keeps Eigen's AVX2 build for f32).
bool gemm_uses_avx2();

// The builds, callable directly by tests and benchmarks (same contract as gemm<T>). sgemm_avx2 is
// the hand-written AVX2 kernel; eigen_avx2_f32 is Eigen's, kept for comparison; avx2_f32 runs
// the first, or the second under SADANET_GEMM=eigen.
namespace gemm_impl {
void sgemm_avx2(const GemmArgs& g, const float* a, const float* b, float* c);
void eigen_avx2_f32(const GemmArgs& g, const float* a, const float* b, float* c);
void avx2_f32(const GemmArgs& g, const float* a, const float* b, float* c);
void avx2_f64(const GemmArgs& g, const double* a, const double* b, double* c);
void generic_f32(const GemmArgs& g, const float* a, const float* b, float* c);
void generic_f64(const GemmArgs& g, const double* a, const double* b, double* c);
}  // namespace gemm_impl

}  // namespace sadanet::cpu
