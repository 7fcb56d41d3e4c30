// Helpers shared by the stain-augmentation files: the optical-density table, a vectorisable
// exp, exact quantiles, and a Philox stream. CPU only; the CUDA version has its own copies of
// the per-pixel formulas (they are written so that they translate line by line).
#pragma once
#include <array>
#include <bit>
#include <cstdint>
#include <vector>

#include "kernels/philox.h"
#include "sadanet/stain.h"

namespace sadanet::stain::detail {

// od_table()[x] = -ln(max(x, 1) / 255): the optical density of an 8-bit value.
const float* od_table();
// A pixel whose three channels are all <= this is black (the authors' "I < 0.05").
constexpr int kBlackLevel = 12;

// e^-x for x >= 0 (x is capped at 100; e^-100 comes back as 2^-126), relative error < 3e-7.
// Branch-free and written so that GCC vectorises loops over it without -fno-trapping-math (a
// float select would stop it, hence the clamps on bit patterns): k = round(x log2 e) by the
// 1.5 * 2^23 trick, r = x - k ln 2 in two parts (Cody-Waite), e^-r by Taylor to degree 6, times 2^-k.
inline float exp_neg(float x) {
  int32_t xb = std::bit_cast<int32_t>(x);
  xb = xb < 0x42C80000 ? xb : 0x42C80000;  // min(x, 100) for x >= 0 (IEEE order = integer order)
  x = std::bit_cast<float>(xb);
  const float big = x * 1.44269504088896341f + 12582912.0f;
  const float k = big - 12582912.0f;
  const float f = k * 0.693145751953125f - x + k * 1.42860682030941723e-6f;  // -(x - k ln 2)
  float p = 1.0f / 720.0f;
  p = p * f + 1.0f / 120.0f;
  p = p * f + 1.0f / 24.0f;
  p = p * f + 1.0f / 6.0f;
  p = p * f + 0.5f;
  p = p * f + 1.0f;
  p = p * f + 1.0f;
  int32_t e = 0x4B400000 - std::bit_cast<int32_t>(big);  // -k
  e = e > -126 ? e : -126;
  return p * std::bit_cast<float>((e + 127) << 23);
}

// Quantile q of x[0..n) with linear interpolation between order statistics, as torch.quantile
// and numpy.percentile: position q (n-1). Exact; O(n) by a histogram that finds the two order
// statistics' bins, then nth_element inside them. lo/hi: bounds of the values (for the bins).
float quantile(const float* x, int64_t n, double q, float lo, float hi, std::vector<float>& scratch);

// Counter-based uniform numbers: draw i of stream (seed, offset) is Philox word i.
struct PhiloxStream {
  uint64_t seed = 0, offset = 0, counter = 0;
  uint32_t next_u32() {
    const uint64_t i = counter++;
    return philox::bits(seed, offset, i);
  }
  double next_double() {  // [0, 1) with 53 bits
    const uint64_t a = next_u32() >> 5, b = next_u32() >> 6;
    return (static_cast<double>(a) * 67108864.0 + static_cast<double>(b)) * (1.0 / 9007199254740992.0);
  }
  int next_below(int n) {  // uniform in [0, n)
    int v = static_cast<int>(next_double() * n);
    return v < n ? v : n - 1;
  }
};

// The non-negative 2-stain lasso of one pixel, exactly: argmin_{h>=0} 0.5|v - W h|^2 + lambda (h0 + h1)
// with unit columns (W'W = [[1, c], [c, 1]], c >= 0). b = W'v - lambda; both stains are active when
// the unconstrained solution G^-1 b is non-negative; otherwise the stain with the negative
// coefficient is dropped and the other takes max(b, 0) (the KKT conditions hold since c >= 0).
struct PixelLasso {
  float w00, w10, w20, w01, w11, w21;  // w_cj
  float c, inv_det, lambda;
  PixelLasso(const std::array<float, 6>& W, float lam) {
    w00 = W[0]; w10 = W[1]; w20 = W[2]; w01 = W[3]; w11 = W[4]; w21 = W[5];
    c = w00 * w01 + w10 * w11 + w20 * w21;
    c = c < 0.0f ? 0.0f : (c > 1.0f ? 1.0f : c);
    const float det = 1.0f - c * c;
    inv_det = 1.0f / (det > 1e-6f ? det : 1e-6f);
    lambda = lam;
  }
};

// c ? a : b on bit patterns. GCC (-ftrapping-math) turns a float select whose arms it can compute
// lazily into a branch and then refuses to vectorise the loop; an integer blend it keeps.
inline float select_f(bool c, float a, float b) {
  const int32_t m = -static_cast<int32_t>(c);
  return std::bit_cast<float>((std::bit_cast<int32_t>(a) & m) | (std::bit_cast<int32_t>(b) & ~m));
}
inline float max0(float x) { return select_f(x > 0.0f, x, 0.0f); }

// Declares const floats h0, h1: the lasso solution of pixel (x0, x1, x2), branch-free.
#define SADANET_PIXEL_LASSO(L, x0, x1, x2, h0, h1)                                                            \
  const float b0_ = L.w00 * (x0) + L.w10 * (x1) + L.w20 * (x2) - L.lambda;                                    \
  const float b1_ = L.w01 * (x0) + L.w11 * (x1) + L.w21 * (x2) - L.lambda;                                    \
  const float j0_ = (b0_ - L.c * b1_) * L.inv_det;                                                            \
  const float j1_ = (b1_ - L.c * b0_) * L.inv_det;                                                            \
  const bool n0_ = j0_ < 0.0f, n1_ = j1_ < 0.0f;                                                              \
  const float h0 = ::sadanet::stain::detail::select_f(                                                        \
      n0_, 0.0f, ::sadanet::stain::detail::select_f(n1_, ::sadanet::stain::detail::max0(b0_), j0_));          \
  const float h1 = ::sadanet::stain::detail::select_f(                                                        \
      n0_, ::sadanet::stain::detail::max0(b1_), ::sadanet::stain::detail::select_f(n1_, 0.0f, j1_))

// The per-pixel loops (kernels.inl), for the baseline ISA or AVX2+FMA, chosen once per process.
struct Kernels {
  // Planar OD of a strided u8 image (channel planes R, G, B, pixel stride ps); returns the largest OD sum.
  float (*load_od)(const uint8_t* R, const uint8_t* G, const uint8_t* B, int64_t ps, int64_t n, float* o0, float* o1,
                   float* o2);
  // flags[p] = 1 for the stained pixels; returns how many, *black = black pixels.
  int64_t (*stained_flags)(const float* o0, const float* o1, const float* o2, int64_t n, float min_sum,
                           const float bg[3], float d2, float black_od, uint8_t* flags, int64_t* black);
  // H-step of the W fit (lasso, or relaxed: lasso support, unpenalised values):
  // out = a00, a01, a11 (H H'), b00, b10, b20, b01, b11, b21 (V H').
  void (*fit_stats)(const float* v0, const float* v1, const float* v2, int64_t m, const PixelLasso& L, bool relaxed,
                    float out[9]);
  // Relaxed-lasso densities of every pixel; mx = the row maxima.
  void (*solve_h)(const float* o0, const float* o1, const float* o2, int64_t n, const PixelLasso& L, float* H0,
                  float* H1, float mx[2]);
  // The authors' multiplicative H step, in place; out as fit_stats.
  void (*mu_step)(const float* V0, const float* V1, const float* V2, int64_t n, const float W[6], float lambda,
                  float* H0, float* H1, float out[9]);
  // Eq. 3: round(255 exp(-(M h + B))) into planes R, G, B with pixel stride ps.
  void (*render_u8)(const float* H0, const float* H1, int64_t n, const float M[6], const float B[3], uint8_t* R,
                    uint8_t* G, uint8_t* Bo, int64_t ps);
  // exp(-(M h + B)) as floats (before ColorJitter).
  void (*render_f32)(const float* H0, const float* H1, int64_t n, const float M[6], const float B[3], float* R,
                     float* G, float* Bo);
  // torchvision's ColorJitter, in place (order: indices of brightness, contrast, saturation, hue).
  void (*color_jitter)(float* R, float* G, float* B, float* scratch, int64_t n, const int order[4],
                       const float factor[4]);
  const char* name;
};
const Kernels& kernels();
// Every table this CPU can run (the baseline first), for tests.
std::vector<const Kernels*> all_kernels();

// Decomposition of a strided RGB image: channel c of pixel p is px[c * cstride + p * pstride].
// decompose_into writes the densities (2 x n) to H, which the caller owns.
void decompose_into(const uint8_t* px, int64_t cstride, int64_t pstride, int height, int width, const StainOptions& opt,
                    StainInfo& info, float* H);
StainResult decompose_strided(const uint8_t* px, int64_t cstride, int64_t pstride, int height, int width,
                              const StainOptions& opt);

// Per-view rendering parameters: M = W_t diag(ratio), the added background, and the jitter.
struct RenderPlan {
  std::array<float, 6> M{};  // column-major like W
  std::array<float, 3> B{};
  bool jitter = false;
  std::array<float, 4> jitter_factor{};  // brightness, contrast, saturation, hue
  std::array<int, 4> jitter_order{};     // indices into jitter_factor, applied in this order
};
RenderPlan make_plan(const StainInfo& source, const StainInfo& target, const RestainOptions& opt);
// Renders source densities H (2 x n) with the plan into out (channel c of pixel p at
// out[c * cstride + p * pstride]). scratch is resized as needed (jitter only).
void render(const float* H, int64_t n, const RenderPlan& plan, uint8_t* out, int64_t cstride, int64_t pstride,
            std::vector<float>& scratch);

}  // namespace sadanet::stain::detail
