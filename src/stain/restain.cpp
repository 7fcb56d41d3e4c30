// Step 3 of SADA's stain augmentation: Eq. 2 (density rescaling by the 99th percentiles) and
// Eq. 3 (rendering with the target's stains), plus the authors' ColorJitter for the
// reference_code variant.
#include <algorithm>
#include <cmath>

#include "sadanet/error.h"
#include "stain/stain_internal.h"

namespace sadanet::stain {
namespace detail {

RenderPlan make_plan(const StainInfo& source, const StainInfo& target, const RestainOptions& opt) {
  RenderPlan plan;
  for (int j = 0; j < 2; ++j) {
    float ratio = (target.p99[j] + 1e-6f) / (source.p99[j] + 1e-6f);
    if (!std::isfinite(ratio)) ratio = 1.0f;
    ratio = std::clamp(ratio, opt.ratio_min, opt.ratio_max);
    for (int c = 0; c < 3; ++c) plan.M[3 * j + c] = target.W[3 * j + c] * ratio;
  }
  if (opt.add_background) plan.B = target.B;
  return plan;
}

namespace {
inline float clamp01(float v) { return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v); }
}  // namespace

void render(const float* H, int64_t n, const RenderPlan& plan, uint8_t* out, int64_t cs, int64_t ps,
            std::vector<float>& scratch) {
  const Kernels& K = kernels();
  const float* H0 = H;
  const float* H1 = H + n;
  if (!plan.jitter) {
    K.render_u8(H0, H1, n, plan.M.data(), plan.B.data(), out, out + cs, out + 2 * cs, ps);
    return;
  }
  // The authors' path: exp(-max(OD, 1e-6)) in [0, 1] (the max changes nothing at 8 bits, so it
  // is left out), ColorJitter, then 8 bits.
  scratch.resize(4 * static_cast<size_t>(n));
  float* R = scratch.data();
  float* G = R + n;
  float* B = G + n;
  float* tmp = B + n;
  K.render_f32(H0, H1, n, plan.M.data(), plan.B.data(), R, G, B);
  K.color_jitter(R, G, B, tmp, n, plan.jitter_order.data(), plan.jitter_factor.data());
  uint8_t* oR = out;
  uint8_t* oG = out + cs;
  uint8_t* oB = out + 2 * cs;
  for (int64_t p = 0; p < n; ++p) {
    oR[p * ps] = static_cast<uint8_t>(static_cast<int32_t>(clamp01(R[p]) * 255.0f + 0.5f));
    oG[p * ps] = static_cast<uint8_t>(static_cast<int32_t>(clamp01(G[p]) * 255.0f + 0.5f));
    oB[p * ps] = static_cast<uint8_t>(static_cast<int32_t>(clamp01(B[p]) * 255.0f + 0.5f));
  }
}

}  // namespace detail

std::vector<uint8_t> restain(const StainResult& source, const StainInfo& target, const RestainOptions& opt) {
  const int64_t n = static_cast<int64_t>(source.height) * source.width;
  SADANET_CHECK(n > 0 && static_cast<int64_t>(source.H.size()) == 2 * n,
                "stain::restain: expected a decomposed source (H of 2 x ", n, " densities), got ", source.H.size());
  std::vector<uint8_t> out(3 * static_cast<size_t>(n));
  std::vector<float> scratch;
  detail::render(source.H.data(), n, detail::make_plan(source, target, opt), out.data(), 1, 3, scratch);
  return out;
}

}  // namespace sadanet::stain
