// SADA stain augmentation: decomposition on synthetic smears made from known stains, re-staining,
// k-means, and the bad inputs a real data set contains. Inputs are fresh each run (the seed is
// printed; SADANET_TEST_SEED repeats it).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "op_table.h"
#include "sadanet/sadanet.h"
#include "sadanet/stain.h"
#include "stain/stain_internal.h"

using namespace sadanet;
using namespace sadanet::stain;

namespace {

std::mt19937_64 rng_for(const char* test) { return std::mt19937_64(test::run_seed() ^ test::name_hash(test)); }

float uni(std::mt19937_64& r, float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(r); }

double angle_deg(const float* a, const float* b) {
  double d = 0, na = 0, nb = 0;
  for (int c = 0; c < 3; ++c) { d += double(a[c]) * b[c]; na += double(a[c]) * a[c]; nb += double(b[c]) * b[c]; }
  return std::acos(std::clamp(d / std::sqrt(na * nb), -1.0, 1.0)) * 180.0 / M_PI;
}

// Two random Giemsa-like stains: stain 0 purple (little blue OD), stain 1 pink-orange (more blue
// OD), at least 15 degrees apart, so the documented order puts them as given.
std::array<float, 6> random_stains(std::mt19937_64& r) {
  while (true) {
    std::array<float, 6> W{};
    const float base[6] = {0.55f, 0.78f, 0.25f, 0.25f, 0.70f, 0.65f};
    for (int j = 0; j < 2; ++j) {
      double n = 0;
      for (int c = 0; c < 3; ++c) {
        W[3 * j + c] = std::max(0.03f, base[3 * j + c] + uni(r, -0.15f, 0.15f));
        n += double(W[3 * j + c]) * W[3 * j + c];
      }
      for (int c = 0; c < 3; ++c) W[3 * j + c] = static_cast<float>(W[3 * j + c] / std::sqrt(n));
    }
    if (W[2] < W[5] - 0.05f && angle_deg(W.data(), W.data() + 3) > 15.0) return W;
  }
}

// A synthetic smear from known stains: each pixel is background (white), pure stain 0, pure
// stain 1 or a mixture, with densities uniform in [0.15, 1.6]; rendered to 8 bits by Beer-Lambert.
struct Synthetic {
  int h = 0, w = 0;
  std::array<float, 6> W{};
  std::vector<float> H;  // 2 x n, the true densities
  std::vector<uint8_t> hwc;
  std::vector<uint8_t> chw() const {
    std::vector<uint8_t> out(hwc.size());
    const size_t n = static_cast<size_t>(h) * w;
    for (size_t p = 0; p < n; ++p)
      for (int c = 0; c < 3; ++c) out[c * n + p] = hwc[p * 3 + c];
    return out;
  }
};

Synthetic make_synthetic(std::mt19937_64& r, int h, int w, const std::array<float, 6>& W, bool second_stain = true) {
  Synthetic s;
  s.h = h;
  s.w = w;
  s.W = W;
  const int64_t n = static_cast<int64_t>(h) * w;
  s.H.assign(2 * n, 0.0f);
  s.hwc.resize(3 * n);
  for (int64_t p = 0; p < n; ++p) {
    const float u = uni(r, 0, 1);
    float h0 = 0, h1 = 0;
    if (u < 0.3f) {
    } else if (u < 0.5f || !second_stain) {
      h0 = uni(r, 0.15f, 1.6f);
    } else if (u < 0.7f) {
      h1 = uni(r, 0.15f, 1.6f);
    } else {
      h0 = uni(r, 0.15f, 1.6f);
      h1 = uni(r, 0.15f, 1.6f);
    }
    s.H[p] = h0;
    s.H[n + p] = h1;
    for (int c = 0; c < 3; ++c) {
      const double od = double(W[c]) * h0 + double(W[3 + c]) * h1;
      s.hwc[p * 3 + c] = static_cast<uint8_t>(std::clamp(std::lround(255.0 * std::exp(-od)), 1L, 255L));
    }
  }
  return s;
}

std::vector<uint8_t> uniform_image(int h, int w, uint8_t r, uint8_t g, uint8_t b) {
  std::vector<uint8_t> img(static_cast<size_t>(h) * w * 3);
  for (size_t p = 0; p < img.size() / 3; ++p) { img[3 * p] = r; img[3 * p + 1] = g; img[3 * p + 2] = b; }
  return img;
}

void expect_finite(const StainInfo& s, const std::string& what) {
  for (float v : s.W) EXPECT_TRUE(std::isfinite(v)) << what;
  for (float v : s.B) EXPECT_TRUE(std::isfinite(v)) << what;
  for (float v : s.p99) EXPECT_TRUE(std::isfinite(v)) << what;
  EXPECT_TRUE(std::isfinite(s.rank_ratio) && std::isfinite(s.stain_angle_deg)) << what;
}
void expect_finite(const StainResult& s, const std::string& what) {
  expect_finite(static_cast<const StainInfo&>(s), what);
  for (float v : s.H) ASSERT_TRUE(std::isfinite(v)) << what;
}

// [N, 3, H, W] u8 from HWC images.
Tensor batch_of(const std::vector<std::vector<uint8_t>>& hwc, int h, int w) {
  Tensor t = empty({static_cast<int64_t>(hwc.size()), 3, h, w}, TensorOptions(DType::u8));
  uint8_t* d = t.data<uint8_t>();
  const size_t n = static_cast<size_t>(h) * w;
  for (size_t i = 0; i < hwc.size(); ++i)
    for (size_t p = 0; p < n; ++p)
      for (int c = 0; c < 3; ++c) d[(i * 3 + c) * n + p] = hwc[i][p * 3 + c];
  return t;
}

const uint8_t* row_of(const AugmentedBatch& b, int64_t row) {
  const int64_t sz = b.images.size(1) * b.images.size(2) * b.images.size(3);
  return b.images.data<uint8_t>() + row * sz;
}

int max_abs_diff(const uint8_t* a, const uint8_t* b, size_t n) {
  int m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::abs(int(a[i]) - int(b[i])));
  return m;
}

}  // namespace

// ---- decomposition -------------------------------------------------------------------------------

// W within 2 degrees per stain; H compared per non-background pixel as |H^ - H|_1 / |H|_1, whose
// median must be <= 1e-2.
TEST(Stain, RecoversKnownStainsAndDensities) {
  auto r = rng_for("Stain.RecoversKnownStainsAndDensities");
  for (int trial = 0; trial < 4; ++trial) {
    const auto W = random_stains(r);
    const Synthetic s = make_synthetic(r, 96, 112, W);
    const StainResult res = decompose(s.hwc.data(), s.h, s.w);
    SCOPED_TRACE("trial " + std::to_string(trial));
    ASSERT_FALSE(res.degenerate) << res.reason;
    expect_finite(res, "synthetic");
    for (int j = 0; j < 2; ++j) EXPECT_LE(angle_deg(&res.W[3 * j], &W[3 * j]), 2.0) << "stain " << j;
    EXPECT_LT(res.W[2], res.W[5]) << "stain 0 must be the one with the smaller blue OD";
    const int64_t n = int64_t{s.h} * s.w;
    std::vector<double> rel;
    for (int64_t p = 0; p < n; ++p) {
      const double t0 = s.H[p], t1 = s.H[n + p];
      if (t0 + t1 <= 0) continue;
      rel.push_back((std::abs(res.H[p] - t0) + std::abs(res.H[n + p] - t1)) / (t0 + t1));
    }
    std::nth_element(rel.begin(), rel.begin() + rel.size() / 2, rel.end());
    EXPECT_LE(rel[rel.size() / 2], 1e-2) << "median relative density error";
    // p99 is the 99th percentile of each row over every pixel.
    for (int j = 0; j < 2; ++j) {
      std::vector<float> row(res.H.begin() + j * n, res.H.begin() + (j + 1) * n);
      std::sort(row.begin(), row.end());
      const double pos = 0.99 * (n - 1);
      const int64_t lo = static_cast<int64_t>(pos);
      const double want = row[lo] + (pos - lo) * (row[std::min(lo + 1, n - 1)] - row[lo]);
      EXPECT_NEAR(res.p99[j], want, 1e-5 * std::max(1.0, want));
    }
  }
}

TEST(Stain, HwcAndChwAgree) {
  auto r = rng_for("Stain.HwcAndChwAgree");
  const Synthetic s = make_synthetic(r, 40, 56, random_stains(r));
  const auto chw = s.chw();
  const StainResult a = decompose(s.hwc.data(), s.h, s.w), b = decompose_chw(chw.data(), s.h, s.w);
  EXPECT_EQ(a.W, b.W);
  EXPECT_EQ(a.p99, b.p99);
  EXPECT_EQ(a.H, b.H);
}

TEST(Stain, RestainWithOwnStainsIsIdentity) {
  auto r = rng_for("Stain.RestainWithOwnStainsIsIdentity");
  for (int trial = 0; trial < 3; ++trial) {
    const Synthetic s = make_synthetic(r, 80, 80, random_stains(r));
    const StainResult res = decompose(s.hwc.data(), s.h, s.w);
    ASSERT_FALSE(res.degenerate) << res.reason;
    const auto out = restain(res, res);
    EXPECT_LE(max_abs_diff(out.data(), s.hwc.data(), out.size()), 1) << "trial " << trial;
  }
}

// Eq. 2 and 3 against a direct evaluation, including the ratio clamp.
TEST(Stain, RestainFollowsEquations2And3) {
  auto r = rng_for("Stain.RestainFollowsEquations2And3");
  const Synthetic a = make_synthetic(r, 48, 48, random_stains(r));
  const Synthetic b = make_synthetic(r, 48, 48, random_stains(r));
  const StainResult sa = decompose(a.hwc.data(), a.h, a.w);
  StainInfo tb = decompose(b.hwc.data(), b.h, b.w);
  tb.p99[0] = sa.p99[0] * 10;  // clamped to 4
  tb.p99[1] = sa.p99[1] * 0.5f;
  const auto out = restain(sa, tb);
  const int64_t n = 48 * 48;
  const double ratio[2] = {4.0, (tb.p99[1] + 1e-6) / (sa.p99[1] + 1e-6)};
  int worst = 0;
  for (int64_t p = 0; p < n; ++p)
    for (int c = 0; c < 3; ++c) {
      const double od = tb.W[c] * ratio[0] * sa.H[p] + tb.W[3 + c] * ratio[1] * sa.H[n + p];
      const long want = std::lround(std::clamp(255.0 * std::exp(-od), 0.0, 255.0));
      worst = std::max(worst, static_cast<int>(std::abs(want - out[p * 3 + c])));
    }
  EXPECT_LE(worst, 1);
}

TEST(Stain, DeterministicAndFinite) {
  auto r = rng_for("Stain.DeterministicAndFinite");
  const Synthetic s = make_synthetic(r, 64, 64, random_stains(r));
  for (auto opt : {StainOptions::paper(), StainOptions::reference_code()}) {
    const StainResult a = decompose(s.hwc.data(), s.h, s.w, opt), b = decompose(s.hwc.data(), s.h, s.w, opt);
    EXPECT_EQ(a.W, b.W);
    EXPECT_EQ(a.H, b.H);
    expect_finite(a, variant_name(opt.variant));
    EXPECT_FALSE(a.degenerate) << variant_name(opt.variant) << ": " << a.reason;
  }
}

// ---- bad inputs ------------------------------------------------------------------------------------

TEST(Stain, BadImagesAreFlaggedAndFinite) {
  auto r = rng_for("Stain.BadImagesAreFlaggedAndFinite");
  const int h = 50, w = 60;
  const uint8_t grey = static_cast<uint8_t>(std::uniform_int_distribution<int>(40, 220)(r));
  const Synthetic one = make_synthetic(r, h, w, random_stains(r), /*second_stain=*/false);
  struct Bad {
    std::string name;
    std::vector<uint8_t> img;
  };
  const std::vector<Bad> bad = {{"all white", uniform_image(h, w, 255, 255, 255)},
                                {"all black", uniform_image(h, w, 0, 0, 0)},
                                {"uniform grey " + std::to_string(grey), uniform_image(h, w, grey, grey, grey)},
                                {"one dye only", one.hwc}};
  for (auto opt : {StainOptions::paper(), StainOptions::reference_code()}) {
    for (const auto& b : bad) {
      const std::string what = b.name + " (" + variant_name(opt.variant) + ")";
      const StainResult res = decompose(b.img.data(), h, w, opt);
      EXPECT_TRUE(res.degenerate) << what;
      EXPECT_FALSE(res.reason.empty()) << what;
      expect_finite(res, what);
    }
  }
  // A single pixel and a sliver decompose without trouble too.
  const auto px = uniform_image(1, 1, 120, 60, 200);
  EXPECT_TRUE(decompose(px.data(), 1, 1).degenerate);
  EXPECT_THROW(decompose(px.data(), 0, 5), Error);
}

// ---- k-means -------------------------------------------------------------------------------------

TEST(StainKMeans, RecoversWellSeparatedClusters) {
  auto r = rng_for("StainKMeans.RecoversWellSeparatedClusters");
  const int k = 3, per = 12;
  std::vector<std::array<float, 6>> centres(k), pts;
  std::vector<int> truth;
  for (auto& c : centres)
    for (float& v : c) v = uni(r, -5, 5);
  for (int i = 0; i < k * per; ++i) {
    const int c = std::uniform_int_distribution<int>(0, k - 1)(r);
    std::array<float, 6> p = centres[c];
    for (float& v : p) v += uni(r, -0.01f, 0.01f);
    pts.push_back(p);
    truth.push_back(c);
  }
  // Make sure every true cluster is present.
  for (int c = 0; c < k; ++c) { pts.push_back(centres[c]); truth.push_back(c); }
  // Keep the test meaningful: the centres must be well apart.
  for (int a = 0; a < k; ++a)
    for (int b = a + 1; b < k; ++b) {
      double d = 0;
      for (int e = 0; e < 6; ++e) d += std::pow(centres[a][e] - centres[b][e], 2);
      if (d < 1.0) GTEST_SKIP() << "random centres too close this run";
    }
  const KMeansResult km = kmeans(pts, k, test::run_seed(), 5);
  ASSERT_EQ(km.k, k);
  ASSERT_EQ(km.labels.size(), pts.size());
  EXPECT_EQ(km.labels[0], 0) << "labels are numbered by first appearance";
  for (size_t i = 0; i < pts.size(); ++i)
    for (size_t j = 0; j < pts.size(); ++j)
      ASSERT_EQ(truth[i] == truth[j], km.labels[i] == km.labels[j]) << i << " " << j;
  const KMeansResult again = kmeans(pts, k, test::run_seed(), 5);
  EXPECT_EQ(again.labels, km.labels);
  EXPECT_EQ(again.centroids, km.centroids);
}

TEST(StainKMeans, IdenticalPointsAndTooFewPoints) {
  auto r = rng_for("StainKMeans.IdenticalPointsAndTooFewPoints");
  std::array<float, 6> p{};
  for (float& v : p) v = uni(r, 0.1f, 1.0f);
  const KMeansResult same = kmeans(std::vector<std::array<float, 6>>(10, p), 3, r(), 5);
  EXPECT_EQ(same.k, 1);
  EXPECT_EQ(same.labels, std::vector<int>(10, 0));
  EXPECT_EQ(same.inertia, 0.0);

  std::array<float, 6> q = p;
  q[2] += 0.5f;
  const KMeansResult two = kmeans({p, q, p}, 3, r(), 5);
  EXPECT_EQ(two.k, 2);
  EXPECT_EQ(two.labels, (std::vector<int>{0, 1, 0}));

  const KMeansResult one = kmeans({q}, 3, r(), 5);
  EXPECT_EQ(one.k, 1);
  EXPECT_EQ(one.labels, std::vector<int>{0});

  const KMeansResult none = kmeans(std::vector<std::array<float, 6>>{}, 3, r(), 5);
  EXPECT_EQ(none.k, 0);
  EXPECT_TRUE(none.labels.empty());
  EXPECT_THROW(kmeans({p}, 0, 1, 1), Error);
}

// ---- the batch pipeline ----------------------------------------------------------------------------

TEST(StainAugment, LayoutTargetsAndReproducibility) {
  auto r = rng_for("StainAugment.LayoutTargetsAndReproducibility");
  const int h = 40, w = 48, N = 9;
  // Three "labs": three stain pairs, three images each.
  std::vector<std::array<float, 6>> labs;
  while (labs.size() < 3) {
    const auto W = random_stains(r);
    bool apart = true;
    for (const auto& L : labs)
      for (int j = 0; j < 2; ++j) apart = apart && angle_deg(&W[3 * j], &L[3 * j]) > 6.0;
    if (apart) labs.push_back(W);
  }
  std::vector<std::vector<uint8_t>> imgs;
  for (int i = 0; i < N; ++i) imgs.push_back(make_synthetic(r, h, w, labs[i % 3]).hwc);
  const Tensor x = batch_of(imgs, h, w);
  const uint64_t seed = r();
  for (auto variant : {StainVariant::paper, StainVariant::reference_code}) {
    SCOPED_TRACE(variant_name(variant));
    auto opt = StainAugmentOptions::for_variant(variant);
    Generator g1(seed), g2(seed);
    const AugmentedBatch a = stain_augment(x, opt, g1), b = stain_augment(x, opt, g2);
    ASSERT_EQ(a.images.shape(), (Shape{N * 3, 3, h, w}));
    EXPECT_EQ(a.images.to_vector<uint8_t>(), b.images.to_vector<uint8_t>()) << "same seed, same batch";
    EXPECT_EQ(a.target, b.target);
    EXPECT_EQ(g1.offset(), 1u);
    const size_t sz = 3 * size_t{h} * w;
    for (int i = 0; i < N; ++i) {
      EXPECT_EQ(max_abs_diff(row_of(a, i), x.data<uint8_t>() + i * sz, sz), 0) << "row " << i << " is the original";
      EXPECT_EQ(a.source[i], i);
      EXPECT_FALSE(a.stains[i].degenerate) << a.stains[i].reason;
    }
    if (variant == StainVariant::paper) {
      EXPECT_EQ(a.clustering.k, 3);
      // The three labs are the three clusters.
      for (int i = 0; i < N; ++i) EXPECT_EQ(a.cluster[i], a.cluster[i % 3]);
    }
    for (int i = 0; i < N; ++i) {
      std::set<int> seen;
      for (int m = 0; m < 2; ++m) {
        const int64_t row = N + i * 2 + m;
        EXPECT_EQ(a.source[row], i);
        const int t = a.target[row];
        ASSERT_GE(t, 0);
        ASSERT_LT(t, N);
        EXPECT_EQ(a.target_cluster[row], a.cluster[t]);
        if (!a.fallback[row]) {
          EXPECT_NE(a.cluster[t], a.cluster[i]) << "a view takes another cluster's stains";
          seen.insert(a.cluster[t]);
        }
      }
      if (a.clustering.k == 3) EXPECT_EQ(seen.size(), 2u) << "image " << i << " visits both other clusters";
    }
  }
}

TEST(StainAugment, DegenerateImagesAreNeverTargets) {
  auto r = rng_for("StainAugment.DegenerateImagesAreNeverTargets");
  const int h = 36, w = 36;
  std::vector<std::vector<uint8_t>> imgs;
  std::vector<bool> bad;
  auto add = [&](std::vector<uint8_t> img, bool is_bad) { imgs.push_back(std::move(img)); bad.push_back(is_bad); };
  add(make_synthetic(r, h, w, random_stains(r)).hwc, false);
  add(uniform_image(h, w, 255, 255, 255), true);
  add(make_synthetic(r, h, w, random_stains(r)).hwc, false);
  add(uniform_image(h, w, 0, 0, 0), true);
  add(uniform_image(h, w, 128, 128, 128), true);
  add(make_synthetic(r, h, w, random_stains(r)).hwc, false);
  add(make_synthetic(r, h, w, random_stains(r), false).hwc, true);
  const Tensor x = batch_of(imgs, h, w);
  const int N = static_cast<int>(imgs.size());
  for (auto variant : {StainVariant::paper, StainVariant::reference_code}) {
    SCOPED_TRACE(variant_name(variant));
    Generator gen(r());
    const AugmentedBatch a = stain_augment(x, StainAugmentOptions::for_variant(variant), gen);
    const size_t sz = 3 * size_t{h} * w;
    for (int i = 0; i < N; ++i) {
      EXPECT_EQ(a.stains[i].degenerate, bad[i]) << "image " << i << ": " << a.stains[i].reason;
      expect_finite(a.stains[i], "image " + std::to_string(i));
      if (bad[i]) EXPECT_EQ(a.cluster[i], -1);
    }
    for (int64_t row = N; row < int64_t{N} * 3; ++row) {
      const int i = a.source[row], t = a.target[row];
      if (!bad[i]) EXPECT_FALSE(a.stains[t].degenerate) << "row " << row << " uses degenerate image " << t;
      if (bad[i]) {
        EXPECT_EQ(t, i);
        EXPECT_EQ(a.target_cluster[row], -1);
        EXPECT_EQ(max_abs_diff(row_of(a, row), row_of(a, i), sz), 0) << "a degenerate image's views are copies";
      }
    }
  }
}

TEST(StainAugment, SmallAndUniformBatches) {
  auto r = rng_for("StainAugment.SmallAndUniformBatches");
  const int h = 32, w = 40;
  const size_t sz = 3 * size_t{h} * w;
  const Synthetic s = make_synthetic(r, h, w, random_stains(r));
  // A single image, a batch smaller than k, and a batch of identical images: views fall back to
  // (copies of) the same stains and come out within a grey level of the original.
  for (int N : {1, 2, 5}) {
    SCOPED_TRACE("N = " + std::to_string(N));
    const Tensor x = batch_of(std::vector<std::vector<uint8_t>>(N, s.hwc), h, w);
    Generator gen(r());
    const AugmentedBatch a = stain_augment(x, StainAugmentOptions{}, gen);
    ASSERT_EQ(a.images.size(0), N * 3);
    EXPECT_EQ(a.clustering.k, 1);
    for (int64_t row = N; row < N * 3; ++row) {
      EXPECT_TRUE(a.fallback[row]);
      EXPECT_LE(max_abs_diff(row_of(a, row), row_of(a, a.source[row]), sz), 1);
      if (N > 1) EXPECT_NE(a.target[row], a.source[row]) << "another image is preferred to the image itself";
    }
  }
  // k = 1: only the originals. k larger than the batch: still N * k rows.
  const Tensor x2 = batch_of({s.hwc, make_synthetic(r, h, w, random_stains(r)).hwc}, h, w);
  Generator gen(r());
  StainAugmentOptions opt;
  opt.k = 1;
  EXPECT_EQ(stain_augment(x2, opt, gen).images.size(0), 2);
  opt.k = 5;
  const AugmentedBatch big = stain_augment(x2, opt, gen);
  EXPECT_EQ(big.images.size(0), 10);
  EXPECT_LE(big.clustering.k, 2);
  // An empty batch, and reuse of the output tensor.
  EXPECT_EQ(stain_augment(empty({0, 3, h, w}, TensorOptions(DType::u8)), opt, gen).images.size(0), 0);
  AugmentedBatch keep;
  stain_augment(x2, opt, gen, keep);
  const void* storage = keep.images.raw_data();
  stain_augment(x2, opt, gen, keep);
  EXPECT_EQ(keep.images.raw_data(), storage);
}

TEST(StainAugment, RejectsBadTensors) {
  Generator gen(1);
  EXPECT_THROW(stain_augment(zeros({2, 3, 8, 8}), StainAugmentOptions{}, gen), Error);  // f32
  EXPECT_THROW(stain_augment(zeros({2, 8, 8, 3}, TensorOptions(DType::u8)), StainAugmentOptions{}, gen), Error);
  StainAugmentOptions bad;
  bad.k = 0;
  EXPECT_THROW(stain_augment(zeros({1, 3, 8, 8}, TensorOptions(DType::u8)), bad, gen), Error);
}

// ---- helpers -------------------------------------------------------------------------------------

TEST(Stain, QuantileIsExact) {
  auto r = rng_for("Stain.QuantileIsExact");
  std::vector<float> scratch;
  for (int64_t n : {1, 2, 7, 1000, 9000, 50176}) {
    std::vector<float> x(n);
    for (auto& v : x) v = uni(r, 0, 1) < 0.5f ? 0.0f : std::round(uni(r, 0, 3) * 64) / 64;  // ties and zeros
    const float hi = *std::max_element(x.begin(), x.end());
    std::vector<float> sorted = x;
    std::sort(sorted.begin(), sorted.end());
    for (double q : {0.0, 0.01, 0.05, 0.5, 0.99, 1.0}) {
      const double pos = q * (n - 1);
      const int64_t lo = static_cast<int64_t>(pos);
      const double want = sorted[lo] + (pos - lo) * (sorted[std::min(lo + 1, n - 1)] - sorted[lo]);
      EXPECT_NEAR(stain::detail::quantile(x.data(), n, q, 0.0f, hi, scratch), want, 1e-6) << "n " << n << " q " << q;
    }
  }
}

TEST(Stain, FastExpIsAccurate) {
  double worst = 0;
  for (float x = 0; x < 80; x += 0.001f) worst = std::max(worst, std::abs(stain::detail::exp_neg(x) / std::exp(-double(x)) - 1));
  EXPECT_LT(worst, 5e-7);
  EXPECT_EQ(stain::detail::exp_neg(0.0f), 1.0f);
  EXPECT_LT(stain::detail::exp_neg(1e30f), 1e-37f);
}

// Every compiled copy of the per-pixel kernels (baseline ISA, AVX2+FMA where the CPU has it) agrees
// with direct formulas.
TEST(Stain, KernelCopiesAgree) {
  auto r = rng_for("Stain.KernelCopiesAgree");
  const int64_t n = 1000 + static_cast<int64_t>(r() % 64);
  std::vector<float> H(2 * n);
  for (auto& v : H) v = uni(r, 0, 1) < 0.2f ? 0.0f : uni(r, 0.1f, 3);
  const auto W = random_stains(r);
  const float M[6] = {W[0] * 1.3f, W[1] * 1.3f, W[2] * 1.3f, W[3] * 0.7f, W[4] * 0.7f, W[5] * 0.7f};
  const float B[3] = {0.05f, 0.1f, 0.2f};
  std::vector<float> od(3 * n);
  for (int64_t p = 0; p < n; ++p)
    for (int c = 0; c < 3; ++c) od[c * n + p] = M[c] * H[p] + M[3 + c] * H[n + p];
  const auto tables = stain::detail::all_kernels();
  ASSERT_GE(tables.size(), 1u);
  std::vector<float> first_h;
  for (const auto* K : tables) {
    SCOPED_TRACE(K->name);
    std::vector<uint8_t> out(3 * n);
    K->render_u8(H.data(), H.data() + n, n, M, B, out.data(), out.data() + n, out.data() + 2 * n, 1);
    int worst = 0;
    for (int64_t p = 0; p < n; ++p)
      for (int c = 0; c < 3; ++c) {
        const double want = 255.0 * std::exp(-(M[c] * double(H[p]) + M[3 + c] * double(H[n + p]) + B[c]));
        worst = std::max(worst, static_cast<int>(std::abs(std::lround(want) - out[c * n + p])));
      }
    EXPECT_LE(worst, 1);
    // Densities of noiseless two-stain pixels come back (relaxed lasso: unbiased).
    std::vector<float> h(2 * n);
    float mx[2];
    std::array<float, 6> Wm;
    for (int j = 0; j < 2; ++j) {
      double nn = 0;
      for (int c = 0; c < 3; ++c) nn += double(M[3 * j + c]) * M[3 * j + c];
      for (int c = 0; c < 3; ++c) Wm[3 * j + c] = static_cast<float>(M[3 * j + c] / std::sqrt(nn));
    }
    K->solve_h(od.data(), od.data() + n, od.data() + 2 * n, n, stain::detail::PixelLasso(Wm, 0.01f), h.data(),
               h.data() + n, mx);
    const float scale[2] = {1.3f, 0.7f};
    for (int64_t p = 0; p < n; ++p)
      for (int j = 0; j < 2; ++j) ASSERT_NEAR(h[j * n + p], H[j * n + p] * scale[j], 1e-4f) << p;
    if (first_h.empty()) first_h = h;
    float st[9], st0[9];
    K->fit_stats(od.data(), od.data() + n, od.data() + 2 * n, n, stain::detail::PixelLasso(Wm, 0.1f), true, st);
    tables[0]->fit_stats(od.data(), od.data() + n, od.data() + 2 * n, n, stain::detail::PixelLasso(Wm, 0.1f), true, st0);
    for (int i = 0; i < 9; ++i) EXPECT_NEAR(st[i], st0[i], 1e-4 * std::max(1.0f, std::abs(st0[i])));
    // ColorJitter copies agree with each other (torchvision's rules are checked by the sheet tool).
    std::vector<float> rgb(3 * n), rgb0, tmp(n);
    for (auto& v : rgb) v = uni(r, 0, 1);
    rgb0 = rgb;
    const int order[4] = {3, 1, 0, 2};
    const float fac[4] = {1.1f, 0.8f, 1.2f, 0.1f};
    K->color_jitter(rgb.data(), rgb.data() + n, rgb.data() + 2 * n, tmp.data(), n, order, fac);
    tables[0]->color_jitter(rgb0.data(), rgb0.data() + n, rgb0.data() + 2 * n, tmp.data(), n, order, fac);
    for (int64_t i = 0; i < 3 * n; ++i) ASSERT_NEAR(rgb[i], rgb0[i], 1e-5f);
  }
}
