// The synthetic white-cell dataset: deterministic for a seed, the folder layout the scanner
// expects, and domains that differ in colour.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "data_fixtures.h"
#include "sadanet/data/dataset.h"
#include "sadanet/data/synth.h"
#include "sadanet/error.h"

using namespace sadanet;
using namespace sadanet::data;

TEST(Synth, CellsAreAPureFunctionOfTheSeed) {
  std::mt19937_64 rng(test::fresh_seed("synth cells"));
  const uint64_t dseed = rng(), s1 = rng(), s2 = s1 + 1;
  SynthDomain d = synth_domain(1, dseed);
  EXPECT_EQ(d.name, "synthB");
  for (int label = 0; label < 5; ++label) {
    Image a = synth_cell(d, label, 48, s1), b = synth_cell(synth_domain(1, dseed), label, 48, s1);
    ASSERT_EQ(a.height, 48);
    ASSERT_EQ(a.width, 48);
    EXPECT_EQ(a.rgb, b.rgb) << "label " << label;
    EXPECT_NE(a.rgb, synth_cell(d, label, 48, s2).rgb) << "label " << label;
  }
  EXPECT_THROW(synth_cell(d, 5, 48, 0), Error);
  EXPECT_THROW(synth_cell(d, 0, 8, 0), Error);
  EXPECT_THROW(synth_domain_name(26), Error);
  // stain vectors are unit optical-density colours
  for (const auto& w : d.stains) EXPECT_NEAR(std::sqrt(w[0] * w[0] + w[1] * w[1] + w[2] * w[2]), 1.0, 1e-5);
}

TEST(Synth, WritesTheLayoutTheScannerReadsAndTheSameBytesEveryTime) {
  const uint64_t seed = test::fresh_seed("synth dataset");
  test::ScratchDir a, b;
  SynthOptions o;
  o.domains = 3;
  o.per_class = 3;
  o.size = 40;
  o.seed = seed;
  o.threads = 1;
  SynthSummary s = write_synth_dataset(a.path(), o);
  EXPECT_EQ(s.domains, (std::vector<std::string>{"synthA", "synthB", "synthC"}));
  EXPECT_EQ(s.images, 45);
  o.threads = 3;
  write_synth_dataset(b.path(), o);

  Dataset ds = scan_dataset(a.path());
  EXPECT_TRUE(ds.warnings.empty()) << ds.warnings[0];
  EXPECT_EQ(ds.domains, s.domains);
  ASSERT_EQ(ds.items.size(), 45u);
  for (const auto& row : ds.counts()) EXPECT_EQ(row, (std::vector<int64_t>{3, 3, 3, 3, 3}));
  EXPECT_EQ(ds.items[0].rel, "synthA/basophil/basophil_0000.png");
  for (const auto& it : ds.items) {
    Image img = load_image(it.path);
    EXPECT_EQ(img.height, 40);
    EXPECT_EQ(img.width, 40);
    EXPECT_EQ(test::read_file(it.path), test::read_file(b / it.rel)) << it.rel << " differs between runs";
  }
  EXPECT_THROW(write_synth_dataset(a.path(), SynthOptions{.domains = 0}), Error);
  EXPECT_THROW(write_synth_dataset(a.path(), SynthOptions{.size = 8}), Error);
}

TEST(Synth, DomainsDifferInMeanColourAndClassesInLook) {
  const uint64_t seed = test::fresh_seed("synth colours");
  std::mt19937_64 rng(seed);
  const int D = 4, N = 6, S = 48;
  std::vector<std::array<double, 3>> mean(D, {0, 0, 0});
  std::vector<std::array<double, 5>> darkest(D);  // per class: the mean of the darkest 10% of pixels
  for (int d = 0; d < D; ++d) {
    SynthDomain dom = synth_domain(d, seed);
    for (int label = 0; label < 5; ++label) {
      double dark_sum = 0;
      for (int i = 0; i < N; ++i) {
        Image img = synth_cell(dom, label, S, rng());
        std::vector<int> lum;
        for (size_t p = 0; p < img.rgb.size(); p += 3) {
          for (int c = 0; c < 3; ++c) mean[d][c] += img.rgb[p + c];
          lum.push_back(img.rgb[p] + img.rgb[p + 1] + img.rgb[p + 2]);
        }
        std::sort(lum.begin(), lum.end());
        double s = 0;
        for (size_t k = 0; k < lum.size() / 10; ++k) s += lum[k];
        dark_sum += s / (lum.size() / 10);
      }
      darkest[d][label] = dark_sum / N;
    }
    for (auto& m : mean[d]) m /= 5.0 * N * S * S;
  }
  for (int a = 0; a < D; ++a)
    for (int b = a + 1; b < D; ++b) {
      double dist = 0;
      for (int c = 0; c < 3; ++c) dist += (mean[a][c] - mean[b][c]) * (mean[a][c] - mean[b][c]);
      EXPECT_GT(std::sqrt(dist), 4.0) << "domains " << a << " and " << b << " have nearly the same mean colour";
    }
  // in every domain, the lymphocyte's dense nucleus and the basophil's granules are darker than
  // the monocyte's lacy chromatin
  for (int d = 0; d < D; ++d) {
    EXPECT_LT(darkest[d][2], darkest[d][3]) << "domain " << d;
    EXPECT_LT(darkest[d][0], darkest[d][3]) << "domain " << d;
  }
}

TEST(Synth, ImbalancedSetsFollowTheRealLabsProfileAndAreSubsetsOfTheBalancedOne) {
  // Shares of the largest class (neutrophil), per domain profile, at least 2 images.
  EXPECT_EQ(data::synth_class_counts(1, 40, false), (std::vector<int>{2, 18, 8, 4, 40}));
  EXPECT_EQ(data::synth_class_counts(5, 40, false), data::synth_class_counts(1, 40, false));  // profiles repeat
  EXPECT_EQ(data::synth_class_counts(0, 40, true), std::vector<int>(5, 40));
  EXPECT_EQ(data::synth_class_counts(2, 1, false), std::vector<int>(5, 1));
  test::ScratchDir bal, imb;
  data::SynthOptions o;
  o.domains = 2;
  o.per_class = 10;
  o.size = 32;
  o.threads = 2;
  data::write_synth_dataset(bal.path(), o);
  o.balanced = false;
  data::SynthSummary s = data::write_synth_dataset(imb.path(), o);
  int64_t expected = 0;
  for (int d = 0; d < 2; ++d)
    for (int c : data::synth_class_counts(d, 10, false)) expected += c;
  EXPECT_EQ(s.images, expected);
  int64_t files = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(imb.path())) {
    if (!e.is_regular_file()) continue;
    ++files;
    const std::string rel = std::filesystem::relative(e.path(), imb.path()).string();
    std::ifstream a(e.path(), std::ios::binary), b(bal.path() + "/" + rel, std::ios::binary);
    ASSERT_TRUE(b.good()) << rel;
    EXPECT_TRUE(std::equal(std::istreambuf_iterator<char>(a), {}, std::istreambuf_iterator<char>(b), {})) << rel;
  }
  EXPECT_EQ(files, expected);
}
