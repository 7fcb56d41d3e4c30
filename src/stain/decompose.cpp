// Step 1 of SADA's stain augmentation: one image's optical density factored into two stains.
// See include/sadanet/stain.h for the two variants side by side.
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "sadanet/error.h"
#include "stain/stain_internal.h"

namespace sadanet::stain {

const char* variant_name(StainVariant v) { return v == StainVariant::paper ? "paper" : "reference-code"; }

StainVariant variant_from_name(const std::string& name) {
  if (name == "paper") return StainVariant::paper;
  if (name == "reference-code" || name == "reference_code") return StainVariant::reference_code;
  throw Error("stain variant: expected \"paper\" or \"reference-code\", got \"" + name + "\"");
}

StainOptions StainOptions::reference_code() {
  StainOptions o;
  o.variant = StainVariant::reference_code;
  o.lambda = 1e-4f;
  o.iterations = 10;
  return o;
}

namespace detail {

const float* od_table() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int x = 0; x < 256; ++x) t[x] = static_cast<float>(-std::log(std::max(x, 1) / 255.0));
    return t;
  }();
  return table.data();
}

namespace {

// The values of x at or beyond T (>= T for top, <= T otherwise), in order, into out (room for n + 1).
// Blocks of 16 without any are skipped after a vectorised test: the usual case in a tail.
template <bool top>
int64_t gather_beyond(const float* x, int64_t n, float T, float* out) {
  constexpr int64_t kBlock = 16;
  int64_t k = 0, i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    int any = 0;
#pragma omp simd reduction(| : any)
    for (int64_t j = 0; j < kBlock; ++j) any |= (top ? x[i + j] >= T : x[i + j] <= T) ? 1 : 0;
    if (!any) continue;
    for (int64_t j = 0; j < kBlock; ++j) {
      out[k] = x[i + j];
      k += (top ? x[i + j] >= T : x[i + j] <= T) ? 1 : 0;
    }
  }
  for (; i < n; ++i) {
    out[k] = x[i];
    k += (top ? x[i] >= T : x[i] <= T) ? 1 : 0;
  }
  return k;
}

// The order statistics r0 and r1 (ranks in ascending order) of x, interpolated: exact, fast for
// quantiles near either end. A threshold T from every 32nd value with a wide safety margin keeps
// only the values beyond it (a few percent); if they miss the wanted ranks, returns false.
bool quantile_tail(const float* x, int64_t n, double q, int64_t r0, int64_t r1, float frac, std::vector<float>& scratch,
                   float* result) {
  const int64_t m = n / 32;
  scratch.resize(m);
  for (int64_t j = 0; j < m; ++j) scratch[j] = x[32 * j];
  const double margin = 0.01 + 5.0 * std::sqrt(q * (1.0 - q) / static_cast<double>(m));
  const bool top = q >= 0.5;
  const double qs = top ? std::max(0.0, q - margin) : std::min(1.0, q + margin);
  const int64_t rs = std::min<int64_t>(static_cast<int64_t>(qs * static_cast<double>(m - 1)), m - 1);
  std::nth_element(scratch.begin(), scratch.begin() + rs, scratch.end());
  const float T = scratch[rs];
  scratch.resize(n + 1);
  const int64_t cnt = top ? gather_beyond<true>(x, n, T, scratch.data()) : gather_beyond<false>(x, n, T, scratch.data());
  scratch.resize(cnt);
  const int64_t below = top ? n - cnt : 0;  // values left out under the kept ones
  if (r0 < below || r1 - below >= cnt) return false;
  const int64_t k0 = r0 - below, k1 = r1 - below;
  std::nth_element(scratch.begin(), scratch.begin() + k0, scratch.end());
  const float v0 = scratch[k0];
  float v1 = v0;
  if (k1 != k0) v1 = *std::min_element(scratch.begin() + k0 + 1, scratch.end());
  *result = v0 + frac * (v1 - v0);
  return true;
}

}  // namespace

float quantile(const float* x, int64_t n, double q, float lo, float hi, std::vector<float>& scratch) {
  if (n <= 0) return 0.0f;
  if (n == 1) return x[0];
  q = std::clamp(q, 0.0, 1.0);
  const double pos = q * static_cast<double>(n - 1);
  const int64_t r0 = std::min<int64_t>(static_cast<int64_t>(std::floor(pos)), n - 1);
  const int64_t r1 = std::min<int64_t>(r0 + 1, n - 1);
  const float frac = static_cast<float>(pos - static_cast<double>(r0));
  float tail = 0;
  if (n >= 8192 && (q >= 0.9 || q <= 0.1) && quantile_tail(x, n, q, r0, r1, frac, scratch, &tail)) return tail;
  // Otherwise: a histogram finds the bins of the two order statistics, nth_element inside them.
  if (!(hi > lo)) return lo;
  constexpr int kBins = 1024;
  constexpr int64_t kChunk = 256;
  const float scale = static_cast<float>(kBins) / (hi - lo);
  // Bins of a chunk, vectorised; the same function in both passes, so a value's bin never changes.
  auto bins_of = [&](const float* v, int64_t len, int32_t* out) {
#pragma omp simd
    for (int64_t i = 0; i < len; ++i) {
      const float f = (v[i] - lo) * scale;
      const int32_t b = f > 0.0f ? static_cast<int32_t>(std::min(f, float(kBins - 1))) : 0;
      out[i] = b;
    }
  };
  // Four interleaved histograms: repeated bins (many zero densities) would otherwise serialise
  // on one counter.
  std::array<int32_t, 4 * kBins> hist4{};
  int32_t bins[kChunk];
  for (int64_t p0 = 0; p0 < n; p0 += kChunk) {
    const int64_t len = std::min(kChunk, n - p0);
    bins_of(x + p0, len, bins);
    int64_t i = 0;
    for (; i + 4 <= len; i += 4) {
      ++hist4[bins[i]];
      ++hist4[kBins + bins[i + 1]];
      ++hist4[2 * kBins + bins[i + 2]];
      ++hist4[3 * kBins + bins[i + 3]];
    }
    for (; i < len; ++i) ++hist4[bins[i]];
  }
  int64_t cum = 0, before0 = 0;
  int b0 = -1, b1 = -1;
  for (int b = 0; b < kBins; ++b) {
    const int64_t h = int64_t{hist4[b]} + hist4[kBins + b] + hist4[2 * kBins + b] + hist4[3 * kBins + b];
    if (b0 < 0 && cum + h > r0) { b0 = b; before0 = cum; }
    if (cum + h > r1) { b1 = b; cum += h; break; }
    cum += h;
  }
  if (b0 < 0 || b1 < 0) return hi;  // not reached: the bins hold all n values
  // The values in bins b0..b1 (cum - before0 of them), gathered without branches.
  const int64_t count = cum - before0;
  scratch.resize(count + 1);
  float* out = scratch.data();
  int64_t k = 0;
  const uint32_t span = static_cast<uint32_t>(b1 - b0);
  for (int64_t p0 = 0; p0 < n; p0 += kChunk) {
    const int64_t len = std::min(kChunk, n - p0);
    bins_of(x + p0, len, bins);
    int32_t any = 0;
#pragma omp simd reduction(| : any)
    for (int64_t i = 0; i < len; ++i) any |= static_cast<uint32_t>(bins[i] - b0) <= span ? 1 : 0;
    if (!any) continue;  // the usual case: the wanted bins hold few values
    for (int64_t i = 0; i < len; ++i) {
      out[k] = x[p0 + i];
      k += static_cast<uint32_t>(bins[i] - b0) <= span ? 1 : 0;
    }
  }
  scratch.resize(count);
  const int64_t k0 = r0 - before0, k1 = r1 - before0;
  std::nth_element(scratch.begin(), scratch.begin() + k0, scratch.end());
  const float v0 = scratch[k0];
  float v1 = v0;
  if (k1 != k0) v1 = *std::min_element(scratch.begin() + k0 + 1, scratch.end());
  return v0 + frac * (v1 - v0);
}

namespace {

constexpr float kPi = 3.14159265358979323846f;

float angle_deg(const std::array<float, 6>& W) {
  const double d = static_cast<double>(W[0]) * W[3] + static_cast<double>(W[1]) * W[4] + static_cast<double>(W[2]) * W[5];
  const double n0 = std::sqrt(double(W[0]) * W[0] + double(W[1]) * W[1] + double(W[2]) * W[2]);
  const double n1 = std::sqrt(double(W[3]) * W[3] + double(W[4]) * W[4] + double(W[5]) * W[5]);
  if (n0 <= 0 || n1 <= 0) return 0.0f;
  return static_cast<float>(std::acos(std::clamp(d / (n0 * n1), -1.0, 1.0)) * 180.0 / kPi);
}

std::array<float, 6> giemsa_start() {
  return {kMethyleneBlueOD[0], kMethyleneBlueOD[1], kMethyleneBlueOD[2], kEosinOD[0], kEosinOD[1], kEosinOD[2]};
}

// Normalises a 3-vector in place; false (and unchanged) when its norm is ~0.
bool normalize3(float* v) {
  const double n = std::sqrt(double(v[0]) * v[0] + double(v[1]) * v[1] + double(v[2]) * v[2]);
  if (!(n > 1e-12)) return false;
  for (int c = 0; c < 3; ++c) v[c] = static_cast<float>(v[c] / n);
  return true;
}

// A pixel is black when every channel is <= kBlackLevel, i.e. every OD >= od_table()[kBlackLevel].
inline float black_od() { return od_table()[kBlackLevel]; }

// Per-thread buffers, reused from image to image.
struct Scratch {
  std::vector<float> od, sums, q;
  std::vector<uint8_t> flags;
  std::vector<float> v0, v1, v2;  // the fit set
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// One image's optical density, planar.
struct ODImage {
  int64_t n = 0;
  float* c[3] = {nullptr, nullptr, nullptr};
  float hi_sum = 0;  // largest OD sum
};

ODImage load_od(const uint8_t* px, int64_t cs, int64_t ps, int64_t n, std::vector<float>& buf) {
  buf.resize(3 * static_cast<size_t>(n));
  ODImage im;
  im.n = n;
  im.c[0] = buf.data();
  im.c[1] = im.c[0] + n;
  im.c[2] = im.c[1] + n;
  im.hi_sum = kernels().load_od(px, px + cs, px + 2 * cs, ps, n, im.c[0], im.c[1], im.c[2]);
  return im;
}

// The stained pixels: not black, OD sum >= min_od_sum, and at least background_distance (OD,
// Euclidean) from the image's background colour, the mean OD of its brightest
// background_fraction of pixels (by OD sum; estimated on every 4th pixel). Blood smears are
// photographed on a bright field whose colour differs by lab (white, peach, yellow, grey), so
// the threshold is relative to it.
struct Mask {
  int64_t stained = 0, black = 0;
  std::array<float, 3> background{};
  const uint8_t* flags = nullptr;  // 1 per stained pixel
};

Mask find_stained(const ODImage& im, const StainOptions& opt, Scratch& sc) {
  const int64_t n = im.n;
  const float kb = black_od();
  Mask m;
  constexpr int64_t kStep = 4;
  const int64_t ns = (n + kStep - 1) / kStep;
  sc.sums.resize(ns);
  float hi = 0;
  for (int64_t j = 0; j < ns; ++j) {
    const int64_t p = j * kStep;
    sc.sums[j] = im.c[0][p] + im.c[1][p] + im.c[2][p];
    hi = std::max(hi, sc.sums[j]);
  }
  const float level = quantile(sc.sums.data(), ns, opt.background_fraction, 0.0f, hi, sc.q);
  double acc[3] = {0, 0, 0};
  int64_t cnt = 0;
  for (int64_t j = 0; j < ns; ++j) {
    const int64_t p = j * kStep;
    const float x0 = im.c[0][p], x1 = im.c[1][p], x2 = im.c[2][p];
    if (sc.sums[j] > level || (x0 >= kb && x1 >= kb && x2 >= kb)) continue;
    acc[0] += x0; acc[1] += x1; acc[2] += x2;
    ++cnt;
  }
  for (int c = 0; c < 3; ++c) m.background[c] = cnt > 0 ? static_cast<float>(acc[c] / double(cnt)) : 0.0f;
  sc.flags.resize(n);
  m.stained = kernels().stained_flags(im.c[0], im.c[1], im.c[2], n, opt.min_od_sum, m.background.data(),
                                      opt.background_distance * opt.background_distance, kb, sc.flags.data(),
                                      &m.black);
  m.flags = sc.flags.data();
  return m;
}

// Every s-th stained pixel's OD (at most max_fit_pixels) into sc.v0..v2; returns the second moment
// of the fit set (for the rank check).
Eigen::Matrix3d gather_fit_set(const ODImage& im, const Mask& mask, const StainOptions& opt, Scratch& sc) {
  const int64_t max_fit = std::max(opt.max_fit_pixels, 1);
  const int64_t step = std::max<int64_t>((mask.stained + max_fit - 1) / max_fit, 1);
  const int64_t m = (mask.stained + step - 1) / step;
  sc.v0.resize(m); sc.v1.resize(m); sc.v2.resize(m);
  double s00 = 0, s01 = 0, s02 = 0, s11 = 0, s12 = 0, s22 = 0;
  // Stained pixels number 0, 1, 2, ... in pixel order; take numbers 0, step, 2 step, ... Blocks of
  // 16 pixels that hold none of them are passed over on their count alone.
  constexpr int64_t kBlock = 16;
  const int64_t n = im.n;
  int64_t seen = 0, next = 0, j = 0;
  for (int64_t p0 = 0; p0 < n && j < m; p0 += kBlock) {
    const int64_t len = std::min(kBlock, n - p0);
    int c = 0;
    for (int64_t i = 0; i < len; ++i) c += mask.flags[p0 + i];
    if (seen + c <= next) {
      seen += c;
      continue;
    }
    for (int64_t i = 0; i < len; ++i) {
      if (!mask.flags[p0 + i]) continue;
      if (seen++ != next) continue;
      next += step;
      const int64_t p = p0 + i;
      const float x0 = im.c[0][p], x1 = im.c[1][p], x2 = im.c[2][p];
      sc.v0[j] = x0; sc.v1[j] = x1; sc.v2[j] = x2;
      ++j;
      s00 += x0 * x0; s01 += x0 * x1; s02 += x0 * x2; s11 += x1 * x1; s12 += x1 * x2; s22 += x2 * x2;
    }
  }
  sc.v0.resize(j); sc.v1.resize(j); sc.v2.resize(j);
  Eigen::Matrix3d moment;
  moment << s00, s01, s02, s01, s11, s12, s02, s12, s22;
  return moment;
}

float rank_ratio(const Eigen::Matrix3d& m) {
  Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> es(m, Eigen::EigenvaluesOnly);
  const auto e = es.eigenvalues();  // ascending
  if (!(e[2] > 0)) return 0.0f;
  return static_cast<float>(std::sqrt(std::max(e[1], 0.0) / e[2]));
}

// Sparse NMF on the fit set, in two phases of alternating exact steps.
//  1. Lasso: H-step = PixelLasso(lambda) per pixel; W-step = the exact column update on the
//     non-negative unit sphere, w_j = normalise(max(r_j, 0)) with r_j = (V H')_j - w_l (H H')_lj,
//     the minimiser of |V - W H|^2 over w_j alone. Monotone in the lasso objective; stops when
//     no entry of W moves more than `tolerance`, or after `iterations` rounds.
//  2. Debiasing: the same with relaxed H (the lasso picks each pixel's stains, their values are
//     unpenalised), at most `iterations` more rounds. The lasso's shrinkage tilts W by about
//     18 degrees x lambda (measured on synthetic smears); the relaxed rounds remove that bias: the
//     single-stain pixels pull each column onto their own direction, mixtures only hold the plane.
// Both phases are accelerated by SQUAREM (Varadhan & Roland 2008): after two rounds W0 -> W1 -> W2,
// r = W1 - W0, v = W2 - 2 W1 + W0, alpha = -|r|/|v| clamped to [-8, -1], the next W is
// W0 - 2 alpha r + alpha^2 v projected back to non-negative unit columns. It halves the rounds
// (24 instead of 49 on synthetic smears, 47 instead of 74 on the WBC images) at the same accuracy.
// Returns the rounds run in all.
// Projects W onto the feasible set: non-negative unit columns (a column that would vanish keeps `fallback`'s).
void project_w(std::array<float, 6>& W, const std::array<float, 6>& fallback) {
  for (int j = 0; j < 2; ++j) {
    float v[3] = {std::max(W[3 * j], 0.0f), std::max(W[3 * j + 1], 0.0f), std::max(W[3 * j + 2], 0.0f)};
    if (normalize3(v)) std::copy(v, v + 3, W.begin() + 3 * j);
    else std::copy(fallback.begin() + 3 * j, fallback.begin() + 3 * j + 3, W.begin() + 3 * j);
  }
}

int fit_w_paper(const Scratch& sc, const StainOptions& opt, std::array<float, 6>& W) {
  const Kernels& K = kernels();
  const int64_t m = static_cast<int64_t>(sc.v0.size());
  const int max_rounds = std::max(opt.iterations, 1);
  int rounds = 0;
  for (int phase = 0; phase < 2; ++phase) {
    // One round: the H-step over the fit set, then both exact column updates.
    auto step = [&](const std::array<float, 6>& in) {
      std::array<float, 6> out = in;
      float st[9];
      K.fit_stats(sc.v0.data(), sc.v1.data(), sc.v2.data(), m, PixelLasso(in, opt.lambda), phase == 1, st);
      ++rounds;
      const float a01 = st[1];
      float r0[3] = {st[3] - out[3] * a01, st[4] - out[4] * a01, st[5] - out[5] * a01};
      for (float& v : r0) v = std::max(v, 0.0f);
      if (normalize3(r0)) std::copy(r0, r0 + 3, out.begin());
      float r1[3] = {st[6] - out[0] * a01, st[7] - out[1] * a01, st[8] - out[2] * a01};
      for (float& v : r1) v = std::max(v, 0.0f);
      if (normalize3(r1)) std::copy(r1, r1 + 3, out.begin() + 3);
      return out;
    };
    auto moved = [](const std::array<float, 6>& a, const std::array<float, 6>& b) {
      float d = 0;
      for (int i = 0; i < 6; ++i) d = std::max(d, std::abs(a[i] - b[i]));
      return d;
    };
    for (int it = 0; it < max_rounds;) {
      const std::array<float, 6> W1 = step(W);
      ++it;
      if (moved(W1, W) < opt.tolerance || it >= max_rounds) {
        const bool done = moved(W1, W) < opt.tolerance;
        W = W1;
        if (done) break;
        continue;
      }
      const std::array<float, 6> W2 = step(W1);
      ++it;
      double rr = 0, vv = 0;
      std::array<float, 6> r, v;
      for (int i = 0; i < 6; ++i) {
        r[i] = W1[i] - W[i];
        v[i] = W2[i] - 2 * W1[i] + W[i];
        rr += double(r[i]) * r[i];
        vv += double(v[i]) * v[i];
      }
      double alpha = vv > 0 ? -std::sqrt(rr / vv) : -1.0;
      alpha = std::min(alpha, -1.0);
      alpha = std::max(alpha, -8.0);
      std::array<float, 6> X;
      for (int i = 0; i < 6; ++i) X[i] = static_cast<float>(W[i] - 2 * alpha * r[i] + alpha * alpha * v[i]);
      project_w(X, W2);
      const bool done = moved(W2, W1) < opt.tolerance;
      W = done ? W2 : X;
      if (done) break;
    }
  }
  return rounds;
}

// The paper variant's order: stain 0 is the one with the smaller blue OD of its unit vector (the
// purple/blue nuclear stain: azure and methylene blue, which absorb red and green), stain 1 the
// one that absorbs more blue (eosin: pink-orange cytoplasm, granules, red cells). Ties keep the
// order. On the WBC sets the two blue components differ by >= 0.11 in every image (median 0.43).
void order_stains(std::array<float, 6>& W) {
  if (W[5] < W[2]) {
    for (int c = 0; c < 3; ++c) std::swap(W[c], W[3 + c]);
  }
}

bool all_finite(const StainInfo& s) {
  for (float v : s.W) if (!std::isfinite(v)) return false;
  for (float v : s.B) if (!std::isfinite(v)) return false;
  for (float v : s.p99) if (!std::isfinite(v)) return false;
  return true;
}

std::string fmt(const char* f, double a, double b = 0, double c = 0) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), f, a, b, c);
  return buf;
}

void flag(StainInfo& r, const std::string& why) {
  if (!r.degenerate) { r.degenerate = true; r.reason = why; }
}

// Checks shared by both variants on the mask, before fitting.
void check_mask(StainInfo& r, const Mask& c, int64_t n, const StainOptions& opt) {
  const int64_t need = std::max<int64_t>(opt.min_stained_pixels,
                                         static_cast<int64_t>(std::ceil(opt.min_stained_fraction * double(n))));
  if (c.stained >= need) return;
  if (c.black * 2 >= n)
    flag(r, fmt("black image: %.0f%% of the pixels have every channel <= 12", 100.0 * c.black / n));
  else
    flag(r, fmt("blank or uniform image: %.0f of %.0f pixels differ from the background colour by >= %.2f OD",
                double(c.stained), double(n), opt.background_distance));
}

void check_fit(StainInfo& r, const StainOptions& opt) {
  if (r.rank_ratio < opt.min_rank_ratio)
    flag(r, fmt("one colour only: the stained pixels' optical densities span one direction (rank ratio %.4f < %.4f)",
                r.rank_ratio, opt.min_rank_ratio));
  if (opt.variant == StainVariant::paper) {
    if (r.stain_angle_deg < opt.min_stain_angle_deg)
      flag(r, fmt("the two stains are one colour (%.2f degrees apart < %.2f)", r.stain_angle_deg,
                  opt.min_stain_angle_deg));
    for (int j = 0; j < 2; ++j)
      if (!(r.p99[j] >= opt.min_p99))
        flag(r, fmt("stain %.0f is absent: P99 of its density %.4f < %.4f", j, r.p99[j], opt.min_p99));
  } else if (!(std::max(r.p99[0], r.p99[1]) >= opt.min_p99)) {
    // The authors' fit leaves a column at zero when the median OD is zero (a white field over
    // half the image); their code still re-stains such images, so only "no stain at all" counts.
    flag(r, fmt("no stain: P99 of both densities < %.4f", opt.min_p99));
  }
}

// A non-finite result (not expected: every step is guarded) becomes a flagged, harmless one.
void finish_nonfinite(StainInfo& r, float* H, int64_t n, bool scan_h) {
  bool ok = all_finite(r);
  if (ok && scan_h)
    for (int64_t i = 0; i < 2 * n; ++i)
      if (!std::isfinite(H[i])) { ok = false; break; }
  if (ok) return;
  r.degenerate = true;
  r.reason = "numerical failure: non-finite stains or densities";
  r.W = giemsa_start();
  r.B = {0, 0, 0};
  r.p99 = {0, 0};
  std::fill(H, H + 2 * n, 0.0f);
}

void decompose_paper(const uint8_t* px, int64_t cs, int64_t ps, int64_t n, const StainOptions& opt, StainInfo& r,
                     float* H) {
  Scratch& sc = scratch();
  r.W = giemsa_start();
  const ODImage im = load_od(px, cs, ps, n, sc.od);
  const Mask mask = find_stained(im, opt, sc);
  r.stained_fraction = static_cast<float>(double(mask.stained) / double(n));
  check_mask(r, mask, n, opt);
  if (mask.stained > 0) {
    r.rank_ratio = rank_ratio(gather_fit_set(im, mask, opt, sc));
    r.fit_pixels = static_cast<int>(sc.v0.size());
    if (!r.degenerate) r.iterations = fit_w_paper(sc, opt, r.W);
  }
  order_stains(r.W);
  r.stain_angle_deg = angle_deg(r.W);
  // W is finite here (the fit only writes normalised finite vectors), hence so is H.
  float mx[2];
  kernels().solve_h(im.c[0], im.c[1], im.c[2], n, PixelLasso(r.W, opt.lambda_h), H, H + n, mx);
  for (int j = 0; j < 2; ++j) r.p99[j] = quantile(H + j * n, n, 0.99, 0.0f, mx[j], sc.q);
  if (!r.degenerate) check_fit(r, opt);
  finish_nonfinite(r, H, n, false);
}

// The authors' SNMF, step for step (see the header), with the guards listed there.
void decompose_reference(const uint8_t* px, int64_t cs, int64_t ps, int64_t n, const StainOptions& opt, StainInfo& r,
                         float* H) {
  Scratch& sc = scratch();
  const ODImage im = load_od(px, cs, ps, n, sc.od);
  const Mask mask = find_stained(im, opt, sc);
  r.stained_fraction = static_cast<float>(double(mask.stained) / double(n));
  check_mask(r, mask, n, opt);
  if (mask.stained > 0) r.rank_ratio = rank_ratio(gather_fit_set(im, mask, opt, sc));
  r.fit_pixels = static_cast<int>(n);
  // The code's convert_RGB_to_OD exactly: I = X / 255; pixels with every channel < 0.05 become
  // white; I < 1e-6 becomes 1e-6; OD = max(-ln I, 1e-6). (So X = 0 gives 13.8, not ln 255, and a
  // white pixel 1e-6, which decides the median start on mostly white images.)
  static const std::array<float, 256> ref_lut = [] {
    std::array<float, 256> t{};
    for (int x = 0; x < 256; ++x) t[x] = static_cast<float>(std::max(-std::log(std::max(x / 255.0, 1e-6)), 1e-6));
    return t;
  }();
  float* V[3] = {im.c[0], im.c[1], im.c[2]};
  float hi[3] = {0, 0, 0};
  for (int64_t p = 0; p < n; ++p) {
    const int R = px[p * ps], G = px[cs + p * ps], B = px[2 * cs + p * ps];
    const bool black = R <= kBlackLevel && G <= kBlackLevel && B <= kBlackLevel;
    V[0][p] = ref_lut[black ? 255 : R];
    V[1][p] = ref_lut[black ? 255 : G];
    V[2][p] = ref_lut[black ? 255 : B];
    for (int ch = 0; ch < 3; ++ch) hi[ch] = std::max(hi[ch], V[ch][p]);
  }
  for (int ch = 0; ch < 3; ++ch) {
    r.B[ch] = quantile(V[ch], n, opt.background_quantile, 0.0f, hi[ch], sc.q);
    r.W[ch] = quantile(V[ch], n, 0.5, 0.0f, hi[ch], sc.q);  // torch.quantile(X, i / r), i = 1
    r.W[3 + ch] = hi[ch];                                    // i = 2: the maximum
  }
  normalize3(r.W.data());
  normalize3(r.W.data() + 3);
  double vh[3][2], hh00 = double(n), hh01 = double(n), hh11 = double(n);  // V H', H H' for H = 1
  for (int ch = 0; ch < 3; ++ch) {
    const float b = r.B[ch];
    float* v = V[ch];
    double s = 0;
    for (int64_t p = 0; p < n; ++p) {
      v[p] -= b;
      s += v[p];
    }
    vh[ch][0] = vh[ch][1] = s;
  }
  std::fill(H, H + 2 * n, 1.0f);
  const float eps = 1e-6f;
  auto& W = r.W;
  for (int it = 0; it < std::max(opt.iterations, 1); ++it) {
    // W *= (V H') / (W H H' + eps), clamped >= 0, columns normalised.
    for (int ch = 0; ch < 3; ++ch) {
      const double whh0 = double(W[ch]) * hh00 + double(W[3 + ch]) * hh01;
      const double whh1 = double(W[ch]) * hh01 + double(W[3 + ch]) * hh11;
      W[ch] = std::max(0.0f, static_cast<float>(W[ch] * vh[ch][0] / (whh0 + eps)));
      W[3 + ch] = std::max(0.0f, static_cast<float>(W[3 + ch] * vh[ch][1] / (whh1 + eps)));
    }
    normalize3(W.data());
    normalize3(W.data() + 3);
    float st[9];
    kernels().mu_step(V[0], V[1], V[2], n, W.data(), opt.lambda, H, H + n, st);
    hh00 = st[0]; hh01 = st[1]; hh11 = st[2];
    vh[0][0] = st[3]; vh[1][0] = st[4]; vh[2][0] = st[5];
    vh[0][1] = st[6]; vh[1][1] = st[7]; vh[2][1] = st[8];
    r.iterations = it + 1;
  }
  for (int j = 0; j < 2; ++j) {
    const float* hj = H + j * n;
    float m = 0;
    for (int64_t p = 0; p < n; ++p) m = std::max(m, hj[p]);
    r.p99[j] = quantile(hj, n, 0.99, 0.0f, m, sc.q);
  }
  r.stain_angle_deg = angle_deg(r.W);
  if (!r.degenerate) check_fit(r, opt);
  finish_nonfinite(r, H, n, true);
}

}  // namespace

void decompose_into(const uint8_t* px, int64_t cstride, int64_t pstride, int height, int width, const StainOptions& opt,
                    StainInfo& info, float* H) {
  SADANET_CHECK(px != nullptr && H != nullptr, "stain::decompose: expected image data, got a null pointer");
  SADANET_CHECK(height > 0 && width > 0, "stain::decompose: expected a positive image size, got ", height, "x", width);
  info = StainInfo{};
  const int64_t n = static_cast<int64_t>(height) * width;
  if (opt.variant == StainVariant::paper)
    decompose_paper(px, cstride, pstride, n, opt, info, H);
  else
    decompose_reference(px, cstride, pstride, n, opt, info, H);
}

StainResult decompose_strided(const uint8_t* px, int64_t cstride, int64_t pstride, int height, int width,
                              const StainOptions& opt) {
  SADANET_CHECK(height > 0 && width > 0, "stain::decompose: expected a positive image size, got ", height, "x", width);
  StainResult r;
  r.height = height;
  r.width = width;
  r.H.resize(2 * static_cast<size_t>(height) * width);
  decompose_into(px, cstride, pstride, height, width, opt, r, r.H.data());
  return r;
}

}  // namespace detail

StainResult decompose(const uint8_t* rgb_hwc, int height, int width, const StainOptions& opt) {
  return detail::decompose_strided(rgb_hwc, 1, 3, height, width, opt);
}

StainResult decompose_chw(const uint8_t* rgb_chw, int height, int width, const StainOptions& opt) {
  return detail::decompose_strided(rgb_chw, static_cast<int64_t>(height) * width, 1, height, width, opt);
}

}  // namespace sadanet::stain
