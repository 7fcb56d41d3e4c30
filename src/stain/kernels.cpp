// The stain kernels (kernels.inl) compiled for the baseline and for AVX2+FMA; kernels() picks the
// AVX2 copy on CPUs that have it (results agree to float rounding, not bit for bit).
#include <cmath>
#include <cstdint>
#include <vector>

#include "sadanet/runtime.h"
#include "stain/stain_internal.h"

#define SADANET_STAIN_NS kernels_base
#include "stain/kernels.inl"
#undef SADANET_STAIN_NS

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SADANET_STAIN_HAVE_AVX2 1
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define SADANET_STAIN_NS kernels_avx2
#include "stain/kernels.inl"
#undef SADANET_STAIN_NS
#pragma GCC pop_options
#endif

namespace sadanet::stain::detail {

#define SADANET_STAIN_TABLE(ns)                                                                             \
  Kernels {                                                                                                 \
    ns::load_od, ns::stained_flags, ns::fit_stats, ns::solve_h, ns::mu_step, \
        ns::render_u8, ns::render_f32, ns::color_jitter, #ns                                                                  \
  }

std::vector<const Kernels*> all_kernels() {
  static const Kernels base = SADANET_STAIN_TABLE(kernels_base);
  std::vector<const Kernels*> out{&base};
#ifdef SADANET_STAIN_HAVE_AVX2
  static const Kernels avx2 = SADANET_STAIN_TABLE(kernels_avx2);
  if (cpu_has_avx2_fma()) out.push_back(&avx2);
#endif
  return out;
}

const Kernels& kernels() {
  static const Kernels table = [] {
#ifdef SADANET_STAIN_HAVE_AVX2
    if (cpu_has_avx2_fma()) return SADANET_STAIN_TABLE(kernels_avx2);
#endif
    return SADANET_STAIN_TABLE(kernels_base);
  }();
  return table;
}

}  // namespace sadanet::stain::detail
