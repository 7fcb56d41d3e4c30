// The per-pixel loops of the stain augmentation. kernels.cpp includes this file twice: once for
// the build's baseline (SSE2 on x86-64) and once under `#pragma GCC target("avx2,fma")`, and
// picks one at run time, as the GEMM does. SADANET_STAIN_NS names the namespace of each copy.
// Every loop is branch-free so that it vectorises; the CUDA kernels are the same formulas with one
// thread per pixel and the reductions done per block.

namespace SADANET_STAIN_NS {

using sadanet::stain::detail::exp_neg;
using sadanet::stain::detail::max0;
using sadanet::stain::detail::PixelLasso;
using sadanet::stain::detail::select_f;

float load_od(const uint8_t* R, const uint8_t* G, const uint8_t* B, int64_t ps, int64_t n, float* o0, float* o1,
              float* o2) {
  const float* lut = sadanet::stain::detail::od_table();
  float hi = 0;
  if (ps == 1) {
#pragma omp simd reduction(max : hi)
    for (int64_t p = 0; p < n; ++p) {
      const float x0 = lut[R[p]], x1 = lut[G[p]], x2 = lut[B[p]];
      o0[p] = x0; o1[p] = x1; o2[p] = x2;
      const float s = x0 + x1 + x2;
      hi = hi > s ? hi : s;
    }
  } else {
    for (int64_t p = 0; p < n; ++p) {
      const float x0 = lut[R[p * ps]], x1 = lut[G[p * ps]], x2 = lut[B[p * ps]];
      o0[p] = x0; o1[p] = x1; o2[p] = x2;
      const float s = x0 + x1 + x2;
      hi = hi > s ? hi : s;
    }
  }
  return hi;
}

// Stained-pixel flags (see find_stained in decompose.cpp): flags[p] = 1 when pixel p is stained;
// returns how many are, *black = the number of black pixels.
int64_t stained_flags(const float* o0, const float* o1, const float* o2, int64_t n, float min_sum, const float bg[3],
                      float d2, float black_od, uint8_t* flags, int64_t* black) {
  const float b0 = bg[0], b1 = bg[1], b2 = bg[2];
  int64_t k = 0, nb = 0;
#pragma omp simd reduction(+ : k, nb)
  for (int64_t p = 0; p < n; ++p) {
    const float x0 = o0[p], x1 = o1[p], x2 = o2[p];
    const float e0 = x0 - b0, e1 = x1 - b1, e2 = x2 - b2;
    const bool is_black = (x0 >= black_od) & (x1 >= black_od) & (x2 >= black_od);
    const bool keep = (x0 + x1 + x2 >= min_sum) & (e0 * e0 + e1 * e1 + e2 * e2 >= d2) & !is_black;
    flags[p] = keep ? 1 : 0;
    k += keep ? 1 : 0;
    nb += is_black ? 1 : 0;
  }
  *black = nb;
  return k;
}

// One H-step of the W fit on the fit set, returning H H' and V H' (see fit_w_paper). relaxed:
// the lasso only picks each pixel's stains, which are then refitted without penalty (as solve_h).
void fit_stats(const float* v0, const float* v1, const float* v2, int64_t m, const PixelLasso& Lref, bool relaxed,
               float out[9]) {
  const PixelLasso L = Lref;  // a local copy: stores cannot alias it
  const float lambda = relaxed ? L.lambda : 0.0f;
  const float both = lambda / (1.0f + L.c);
  float a00 = 0, a01 = 0, a11 = 0, b00 = 0, b10 = 0, b20 = 0, b01 = 0, b11 = 0, b21 = 0;
#pragma omp simd reduction(+ : a00, a01, a11, b00, b10, b20, b01, b11, b21)
  for (int64_t i = 0; i < m; ++i) {
    const float x0 = v0[i], x1 = v1[i], x2 = v2[i];
    SADANET_PIXEL_LASSO(L, x0, x1, x2, l0, l1);
    const bool a0 = l0 > 0.0f, a1 = l1 > 0.0f;
    const float h0 = l0 + select_f(a0, select_f(a1, both, lambda), 0.0f);
    const float h1 = l1 + select_f(a1, select_f(a0, both, lambda), 0.0f);
    a00 += h0 * h0; a01 += h0 * h1; a11 += h1 * h1;
    b00 += x0 * h0; b10 += x1 * h0; b20 += x2 * h0;
    b01 += x0 * h1; b11 += x1 * h1; b21 += x2 * h1;
  }
  out[0] = a00; out[1] = a01; out[2] = a11;
  out[3] = b00; out[4] = b10; out[5] = b20; out[6] = b01; out[7] = b11; out[8] = b21;
}

// Relaxed lasso for every pixel: L.lambda picks the active stains, which are then refitted without
// penalty (+ lambda / (1 + c) each when both are active, + lambda when one is).
void solve_h(const float* o0, const float* o1, const float* o2, int64_t n, const PixelLasso& Lref, float* H0, float* H1,
             float mx[2]) {
  const PixelLasso L = Lref;
  const float lambda = L.lambda;
  const float both = lambda / (1.0f + L.c);
  float m0 = 0, m1 = 0;
#pragma omp simd reduction(max : m0, m1)
  for (int64_t i = 0; i < n; ++i) {
    SADANET_PIXEL_LASSO(L, o0[i], o1[i], o2[i], h0, h1);
    const bool a0 = h0 > 0.0f, a1 = h1 > 0.0f;
    const float d0 = h0 + select_f(a0, select_f(a1, both, lambda), 0.0f);
    const float d1 = h1 + select_f(a1, select_f(a0, both, lambda), 0.0f);
    H0[i] = d0; H1[i] = d1;
    m0 = m0 > d0 ? m0 : d0;
    m1 = m1 > d1 ? m1 : d1;
  }
  mx[0] = m0; mx[1] = m1;
}

// One step of the authors' multiplicative update of H (W already updated): H <- max(H (W'V - lambda)
// / (W'W H + eps), 0), returning H H' and V H' of the new H.
void mu_step(const float* V0, const float* V1, const float* V2, int64_t n, const float W[6], float lambda, float* H0,
             float* H1, float out[9]) {
  const float eps = 1e-6f;
  const float w00 = W[0], w10 = W[1], w20 = W[2], w01 = W[3], w11 = W[4], w21 = W[5];
  const float g00 = w00 * w00 + w10 * w10 + w20 * w20;
  const float g01 = w00 * w01 + w10 * w11 + w20 * w21;
  const float g11 = w01 * w01 + w11 * w11 + w21 * w21;
  float a00 = 0, a01 = 0, a11 = 0, s00 = 0, s10 = 0, s20 = 0, s01 = 0, s11 = 0, s21 = 0;
#pragma omp simd reduction(+ : a00, a01, a11, s00, s10, s20, s01, s11, s21)
  for (int64_t p = 0; p < n; ++p) {
    const float x0 = V0[p], x1 = V1[p], x2 = V2[p];
    const float h0 = H0[p], h1 = H1[p];
    const float wtv0 = w00 * x0 + w10 * x1 + w20 * x2;
    const float wtv1 = w01 * x0 + w11 * x1 + w21 * x2;
    const float d0 = g00 * h0 + g01 * h1 + eps;
    const float d1 = g01 * h0 + g11 * h1 + eps;
    const float n0 = max0(h0 * (wtv0 - lambda) / d0);
    const float n1 = max0(h1 * (wtv1 - lambda) / d1);
    H0[p] = n0; H1[p] = n1;
    a00 += n0 * n0; a01 += n0 * n1; a11 += n1 * n1;
    s00 += x0 * n0; s10 += x1 * n0; s20 += x2 * n0;
    s01 += x0 * n1; s11 += x1 * n1; s21 += x2 * n1;
  }
  out[0] = a00; out[1] = a01; out[2] = a11;
  out[3] = s00; out[4] = s10; out[5] = s20; out[6] = s01; out[7] = s11; out[8] = s21;
}

// Eq. 3 into 8 bits: x* = round(255 exp(-(M h + B))). OD >= 0 (M, H, B >= 0), so 255 e^-OD + 0.5
// is in [0.5, 255.5] and truncation rounds.
void render_u8(const float* H0, const float* H1, int64_t n, const float M[6], const float B[3], uint8_t* R,
               uint8_t* G, uint8_t* Bo, int64_t ps) {
  const float m00 = M[0], m10 = M[1], m20 = M[2], m01 = M[3], m11 = M[4], m21 = M[5];
  const float b0 = B[0], b1 = B[1], b2 = B[2];
  if (ps == 1) {
#pragma omp simd
    for (int64_t p = 0; p < n; ++p) {
      const float h0 = H0[p], h1 = H1[p];
      R[p] = static_cast<uint8_t>(static_cast<int32_t>(255.0f * exp_neg(m00 * h0 + m01 * h1 + b0) + 0.5f));
      G[p] = static_cast<uint8_t>(static_cast<int32_t>(255.0f * exp_neg(m10 * h0 + m11 * h1 + b1) + 0.5f));
      Bo[p] = static_cast<uint8_t>(static_cast<int32_t>(255.0f * exp_neg(m20 * h0 + m21 * h1 + b2) + 0.5f));
    }
  } else {
    for (int64_t p = 0; p < n; ++p) {
      const float h0 = H0[p], h1 = H1[p];
      R[p * ps] = static_cast<uint8_t>(static_cast<int32_t>(255.0f * exp_neg(m00 * h0 + m01 * h1 + b0) + 0.5f));
      G[p * ps] = static_cast<uint8_t>(static_cast<int32_t>(255.0f * exp_neg(m10 * h0 + m11 * h1 + b1) + 0.5f));
      Bo[p * ps] = static_cast<uint8_t>(static_cast<int32_t>(255.0f * exp_neg(m20 * h0 + m21 * h1 + b2) + 0.5f));
    }
  }
}

// exp(-(M h + B)) as floats in [0, 1] (the jitter path).
void render_f32(const float* H0, const float* H1, int64_t n, const float M[6], const float B[3], float* R, float* G,
                float* Bo) {
  const float m00 = M[0], m10 = M[1], m20 = M[2], m01 = M[3], m11 = M[4], m21 = M[5];
  const float b0 = B[0], b1 = B[1], b2 = B[2];
#pragma omp simd
  for (int64_t p = 0; p < n; ++p) {
    const float h0 = H0[p], h1 = H1[p];
    R[p] = exp_neg(m00 * h0 + m01 * h1 + b0);
    G[p] = exp_neg(m10 * h0 + m11 * h1 + b1);
    Bo[p] = exp_neg(m20 * h0 + m21 * h1 + b2);
  }
}

// torchvision's ColorJitter on float planes in [0, 1]: fn 0 brightness, 1 contrast, 2 saturation,
// 3 hue, applied in the given order with the given factors (adjust_* of torchvision.transforms.
// functional_tensor: _blend clamps to [0, 1], grey = 0.2989 R + 0.587 G + 0.114 B, hue through
// _rgb2hsv / _hsv2rgb with the hue shifted mod 1).
// Clamp to [0, 1] on the bit pattern (integer order = float order for the signs involved): a float
// select here would keep GCC from vectorising the loops below under -ftrapping-math.
inline float clamp01_(float v) {
  int32_t b = std::bit_cast<int32_t>(v);
  b = b < 0 ? 0 : b;                            // negative (and -0) -> +0
  b = b > 0x3F800000 ? 0x3F800000 : b;          // above 1 (and NaN) -> 1
  return std::bit_cast<float>(b);
}

void color_jitter(float* R, float* G, float* B, float* gray, int64_t n, const int order[4], const float factor[4]) {
  constexpr float kR = 0.2989f, kG = 0.587f, kB = 0.114f;
  for (int step = 0; step < 4; ++step) {
    const int fn = order[step];
    const float f = factor[fn];
    const float g = 1.0f - f;
    if (fn == 0) {  // brightness: blend with black
#pragma omp simd
      for (int64_t p = 0; p < n; ++p) {
        R[p] = clamp01_(f * R[p]);
        G[p] = clamp01_(f * G[p]);
        B[p] = clamp01_(f * B[p]);
      }
    } else if (fn == 1) {  // contrast: blend with the mean grey of the image
      float s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t p = 0; p < n; ++p) s += kR * R[p] + kG * G[p] + kB * B[p];
      const float m = g * (s / static_cast<float>(n));
#pragma omp simd
      for (int64_t p = 0; p < n; ++p) {
        R[p] = clamp01_(f * R[p] + m);
        G[p] = clamp01_(f * G[p] + m);
        B[p] = clamp01_(f * B[p] + m);
      }
    } else if (fn == 2) {  // saturation: blend with each pixel's grey
#pragma omp simd
      for (int64_t p = 0; p < n; ++p) {
        const float gr = g * (kR * R[p] + kG * G[p] + kB * B[p]);
        R[p] = clamp01_(f * R[p] + gr);
        G[p] = clamp01_(f * G[p] + gr);
        B[p] = clamp01_(f * B[p] + gr);
      }
    } else if (f != 0.0f) {  // hue
#pragma omp simd
      for (int64_t p = 0; p < n; ++p) {
        const float r = R[p], gg = G[p], b = B[p];
        const float mx1 = r > gg ? r : gg, mn1 = r < gg ? r : gg;
        const float maxc = mx1 > b ? mx1 : b, minc = mn1 < b ? mn1 : b;
        const float cr = maxc - minc;
        // torchvision divides by 1 instead of 0 for grey pixels; + 1e-30 does the same (0 / 1e-30 = 0)
        // without the select that would keep this loop from vectorising.
        const float s = cr / (maxc + 1e-30f);
        const float inv = 1.0f / (cr + 1e-30f);
        const float rc = (maxc - r) * inv, gc = (maxc - gg) * inv, bc = (maxc - b) * inv;
        // torchvision's masks: hr where max == r, hg where max == g != r, hb otherwise. Blends
        // with 0/1 weights rather than selects, which GCC would turn into branches.
        const float wr = maxc == r ? 1.0f : 0.0f;
        const float wg = (1.0f - wr) * (maxc == gg ? 1.0f : 0.0f);
        const float wb = 1.0f - wr - wg;
        float h = wr * (bc - gc) + wg * (2.0f + rc - bc) + wb * (4.0f + gc - rc);
        // fmod(h / 6 + 1, 1), then (h + f) mod 1 for |f| < 1, as x - trunc(x) on positive x
        // (compares feeding the arithmetic would again become branches).
        h = h * (1.0f / 6.0f) + 1.0f;
        h -= static_cast<float>(static_cast<int32_t>(h));
        h += f + 1.0f;
        h -= static_cast<float>(static_cast<int32_t>(h));
        // HSV -> RGB in the closed form c = v - v s max(0, min(k, 4 - k, 1)), k = (n + 6h) mod 6 with
        // n = 5, 3, 1 for R, G, B: torchvision's six sectors (v,t,p) (q,v,p) ... without selects on
        // the sector (which GCC would turn into branches); p, q, t lie in [0, 1] as v, s do.
        const float h6 = h * 6.0f;
        const float v = maxc, vs = maxc * s;
        auto chan = [h6, v, vs](float n0) {
          float k = n0 + h6;                                                    // in [n0, n0 + 6)
          k -= 6.0f * static_cast<float>(static_cast<int32_t>(k * (1.0f / 6.0f)));  // mod 6
          const float m = clamp01_(2.0f - std::fabs(k - 2.0f));                      // min(k, 4 - k) in [0, 1]
          return clamp01_(v - vs * m);
        };
        R[p] = chan(5.0f);
        G[p] = chan(3.0f);
        B[p] = chan(1.0f);
      }
    }
  }
  (void)gray;
}

}  // namespace SADANET_STAIN_NS
