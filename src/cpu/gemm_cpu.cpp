// The portable build of the Eigen GEMM, the run-time choice between it and the AVX2 build, and
// the `gemm` kernel slot.
#define Eigen sadanet_eigen_generic  // see gemm_eigen.inl: keeps this build's templates apart
#include "cpu/gemm_eigen.inl"
#undef Eigen

#include <cstdlib>
#include <cstring>

#include "cpu/cpu_utils.h"
#include "cpu/gemm_cpu.h"

namespace sadanet::cpu {

namespace {
// SADANET_GEMM, read at first use: "generic" runs Eigen's portable build everywhere (to test it),
// "eigen" keeps Eigen's AVX2 build for f32 instead of the hand-written kernel.
enum class GemmOverride { none, generic, eigen };
GemmOverride gemm_override() {
  static const GemmOverride o = [] {
    const char* env = std::getenv("SADANET_GEMM");
    if (env && std::strcmp(env, "generic") == 0) return GemmOverride::generic;
    if (env && std::strcmp(env, "eigen") == 0) return GemmOverride::eigen;
    return GemmOverride::none;
  }();
  return o;
}
}  // namespace

namespace gemm_impl {
void generic_f32(const GemmArgs& g, const float* a, const float* b, float* c) { gemm_batched<float>(g, a, b, c); }
void generic_f64(const GemmArgs& g, const double* a, const double* b, double* c) { gemm_batched<double>(g, a, b, c); }

void avx2_f32(const GemmArgs& g, const float* a, const float* b, float* c) {
  if (gemm_override() == GemmOverride::eigen) eigen_avx2_f32(g, a, b, c);
  else sgemm_avx2(g, a, b, c);
}
}  // namespace gemm_impl

bool gemm_uses_avx2() {
  static const bool use = [] {
    if (gemm_override() == GemmOverride::generic) return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return use;
}

template <> void gemm<float>(const GemmArgs& g, const float* a, const float* b, float* c) {
  if (gemm_uses_avx2()) gemm_impl::avx2_f32(g, a, b, c);
  else gemm_impl::generic_f32(g, a, b, c);
}
template <> void gemm<double>(const GemmArgs& g, const double* a, const double* b, double* c) {
  if (gemm_uses_avx2()) gemm_impl::avx2_f64(g, a, b, c);
  else gemm_impl::generic_f64(g, a, b, c);
}

namespace {
void gemm_kernel(const GemmArgs& g, const Tensor& a, const Tensor& b, Tensor& c) {
  SADANET_CHECK(a.dtype() == c.dtype() && b.dtype() == c.dtype(), "gemm: expected a, b and c of one dtype, got ",
                dtype_name(a.dtype()), ", ", dtype_name(b.dtype()), " and ", dtype_name(c.dtype()));
  dispatch_floating(c.dtype(), "gemm", [&]<class T>() { gemm<T>(g, a.data<T>(), b.data<T>(), c.data<T>()); });
}
}  // namespace

}  // namespace sadanet::cpu

namespace sadanet {
SADANET_REGISTER_KERNEL(gemm, DeviceType::cpu, &cpu::gemm_kernel);
}
