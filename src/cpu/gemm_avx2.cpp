// The AVX2+FMA build of the Eigen GEMM (this file alone is compiled with -mavx2 -mfma -mf16c,
// see CMakeLists.txt). Only called after gemm_cpu.cpp has checked the CPU supports both.
// Nothing outside the renamed Eigen namespace and the two entry points may be emitted here:
// an AVX2-compiled copy of a shared inline function could be the one the linker keeps.
#define Eigen sadanet_eigen_avx2
#include "cpu/gemm_eigen.inl"
#undef Eigen

#include "cpu/gemm_cpu.h"

#if !defined(__AVX2__) || !defined(__FMA__)
#error "gemm_avx2.cpp must be compiled with -mavx2 -mfma"
#endif

namespace sadanet::cpu::gemm_impl {

void eigen_avx2_f32(const GemmArgs& g, const float* a, const float* b, float* c) { gemm_batched<float>(g, a, b, c); }
void avx2_f64(const GemmArgs& g, const double* a, const double* b, double* c) { gemm_batched<double>(g, a, b, c); }

}  // namespace sadanet::cpu::gemm_impl
