// dropout is random, so the op table checks only its gradient on a fixed mask; here: the keep
// rate, the 1/(1-p) scaling, the gradient equal to the scaled mask, eval/p=0 identity, p=1,
// argument checks and reproducibility under a seeded generator.
#include <gtest/gtest.h>

#include <cmath>

#include "sadanet/sadanet.h"

using namespace sadanet;

namespace {

TEST(Dropout, KeepRateAndScaling) {
  const double p = 0.3;
  Generator gen(7);
  Tensor x = ones({200, 500});
  auto y = dropout(x, p, true, &gen).to_vector<float>();
  int64_t kept = 0;
  for (float v : y) {
    if (v != 0.0f) {
      ++kept;
      EXPECT_NEAR(v, 1.0 / (1.0 - p), 1e-6);  // survivors scaled so the mean is preserved
    }
  }
  const double rate = static_cast<double>(kept) / static_cast<double>(y.size());
  // 100000 Bernoulli(0.7) draws: standard deviation 0.0014, so 0.01 is about 7 sigma.
  EXPECT_NEAR(rate, 1.0 - p, 0.01);
}

TEST(Dropout, GradientIsTheScaledMask) {
  const double p = 0.5;
  Generator gen(11);
  Tensor x = randn({8, 16}, {}, &gen).set_requires_grad(true);
  Tensor y = dropout(x, p, true, &gen);
  sum(y).backward();
  auto xv = x.to_vector<float>(), yv = y.to_vector<float>(), gv = x.grad().to_vector<float>();
  for (size_t i = 0; i < xv.size(); ++i) {
    const bool kept = yv[i] != 0.0f;
    EXPECT_FLOAT_EQ(gv[i], kept ? 2.0f : 0.0f) << "element " << i;
    if (kept) EXPECT_FLOAT_EQ(yv[i], 2.0f * xv[i]);
  }
}

TEST(Dropout, IdentityInEvalAndAtZero) {
  Tensor x = randn({4, 5}).set_requires_grad(true);
  Tensor a = dropout(x, 0.5, false);
  Tensor b = dropout(x, 0.0, true);
  EXPECT_EQ(a.to_vector<float>(), x.to_vector<float>());
  EXPECT_EQ(b.to_vector<float>(), x.to_vector<float>());
  sum(add(a, b)).backward();
  for (float g : x.grad().to_vector<float>()) EXPECT_FLOAT_EQ(g, 2.0f);
}

TEST(Dropout, POneGivesZerosAndZeroGradient) {
  Tensor x = randn({3, 4}).set_requires_grad(true);
  Tensor y = dropout(x, 1.0, true);
  for (float v : y.to_vector<float>()) EXPECT_EQ(v, 0.0f);
  sum(y).backward();
  for (float g : x.grad().to_vector<float>()) EXPECT_EQ(g, 0.0f);
}

TEST(Dropout, RejectsProbabilitiesOutsideZeroOne) {
  Tensor x = ones({2, 2});
  for (double p : {-0.1, 1.5, std::nan("")}) {
    try {
      dropout(x, p, true);
      ADD_FAILURE() << "p = " << p << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("dropout"), std::string::npos) << e.what();
    }
  }
  // Refused even in eval mode: a bad p is a bug wherever it is found.
  EXPECT_THROW(dropout(x, 2.0, false), Error);
}

TEST(Dropout, SeededGeneratorReproducesTheMask) {
  Tensor x = ones({64, 64});
  Generator a(123), b(123);
  auto m1 = dropout(x, 0.4, true, &a).to_vector<float>();
  auto m2 = dropout(x, 0.4, true, &b).to_vector<float>();
  EXPECT_EQ(m1, m2);
  auto m3 = dropout(x, 0.4, true, &a).to_vector<float>();  // the next call draws a new mask
  EXPECT_NE(m1, m3);
  // The default generator follows manual_seed.
  manual_seed(99);
  auto d1 = dropout(x, 0.4, true).to_vector<float>();
  manual_seed(99);
  auto d2 = dropout(x, 0.4, true).to_vector<float>();
  EXPECT_EQ(d1, d2);
}

TEST(Dropout, WorksInF64) {
  Generator gen(5);
  Tensor x = ones({10, 10}, TensorOptions(DType::f64));
  Tensor y = dropout(x, 0.25, true, &gen);
  EXPECT_EQ(y.dtype(), DType::f64);
  for (double v : y.to_vector<double>()) EXPECT_TRUE(v == 0.0 || std::abs(v - 1.0 / 0.75) < 1e-12);
}

}  // namespace
