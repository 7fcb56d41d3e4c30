// Philox generator: reproducible, well distributed, one stream per call.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "kernels/philox.h"
#include "op_table.h"
#include "sadanet/sadanet.h"

using namespace sadanet;

TEST(Random, PhiloxMatchesPublishedKnownAnswers) {
  // Random123's kat_vectors for philox4x32_10.
  auto r = philox::block({0, 0, 0, 0}, 0, 0);
  EXPECT_EQ(r.x, 0x6627e8d5u);
  EXPECT_EQ(r.y, 0xe169c58du);
  EXPECT_EQ(r.z, 0xbc57ac4cu);
  EXPECT_EQ(r.w, 0x9b00dbd8u);
  r = philox::block({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, 0xffffffffu, 0xffffffffu);
  EXPECT_EQ(r.x, 0x408f276du);
  EXPECT_EQ(r.y, 0x41c83b0eu);
  EXPECT_EQ(r.z, 0xa20bc7c6u);
  EXPECT_EQ(r.w, 0x6d5451fdu);
  r = philox::block({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, 0xa4093822u, 0x299f31d0u);
  EXPECT_EQ(r.x, 0xd16cfe09u);
  EXPECT_EQ(r.y, 0x94fdccebu);
  EXPECT_EQ(r.z, 0x5001e420u);
  EXPECT_EQ(r.w, 0x24126ea1u);
}

TEST(Random, SameSeedSameNumbersAndCallsDiffer) {
  Generator a(42), b(42);
  auto x1 = randn({100}, {}, &a).to_vector<float>();
  auto y1 = randn({100}, {}, &b).to_vector<float>();
  EXPECT_EQ(x1, y1);
  auto x2 = randn({100}, {}, &a).to_vector<float>();
  EXPECT_NE(x1, x2);
  EXPECT_EQ(a.offset(), 2u);
  b.set_state(42, 0);
  EXPECT_EQ(randn({100}, {}, &b).to_vector<float>(), x1);
  // A prefix of a longer call equals a shorter call: element i depends on i only.
  Generator c(42);
  auto longer = randn({1000}, {}, &c).to_vector<float>();
  EXPECT_TRUE(std::equal(x1.begin(), x1.end(), longer.begin()));
}

TEST(Random, MomentsAreRight) {
  Generator g(test::run_seed());
  const int64_t n = 200000;
  auto u = rand({n}, DType::f64, &g).to_vector<double>();
  auto z = randn({n}, DType::f64, &g).to_vector<double>();
  double su = 0, su2 = 0, sz = 0, sz2 = 0;
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_GE(u[i], 0.0);
    ASSERT_LT(u[i], 1.0);
    su += u[i]; su2 += u[i] * u[i]; sz += z[i]; sz2 += z[i] * z[i];
  }
  // 6-sigma bounds on the sample mean and variance.
  EXPECT_NEAR(su / n, 0.5, 6 * std::sqrt(1.0 / 12 / n));
  EXPECT_NEAR(su2 / n - (su / n) * (su / n), 1.0 / 12, 0.002);
  EXPECT_NEAR(sz / n, 0.0, 6 / std::sqrt(double(n)));
  EXPECT_NEAR(sz2 / n, 1.0, 6 * std::sqrt(2.0 / n));
  auto bern = bernoulli({n}, 0.3, DType::f64, &g).to_vector<double>();
  double sb = 0;
  for (double v : bern) { ASSERT_TRUE(v == 0.0 || v == 1.0); sb += v; }
  EXPECT_NEAR(sb / n, 0.3, 6 * std::sqrt(0.21 / n));
  auto nm = normal({n}, 3.0, 0.5, DType::f64, &g).to_vector<double>();
  double sn = 0;
  for (double v : nm) sn += v;
  EXPECT_NEAR(sn / n, 3.0, 6 * 0.5 / std::sqrt(double(n)));
}

TEST(Random, RandpermIsAPermutationAndReproducible) {
  Generator g(7), h(7);
  auto p = randperm(1000, DType::i64, &g).to_vector<int64_t>();
  std::set<int64_t> s(p.begin(), p.end());
  EXPECT_EQ(s.size(), 1000u);
  EXPECT_EQ(*s.begin(), 0);
  EXPECT_EQ(*s.rbegin(), 999);
  EXPECT_EQ(randperm(1000, DType::i64, &h).to_vector<int64_t>(), p);
  int fixed = 0;
  for (int64_t i = 0; i < 1000; ++i) fixed += p[i] == i;
  EXPECT_LT(fixed, 10);  // expected 1 fixed point
  EXPECT_THROW(randperm(-1), Error);
  EXPECT_THROW(bernoulli({2}, 1.5), Error);
  EXPECT_THROW(randn({2}, DType::i64), Error);
}
