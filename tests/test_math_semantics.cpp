// Corner cases of the math ops that random op-table inputs never reach: ties, NaN, empty
// reductions, all-ignored targets, a zero row in normalize, and sizes large enough to take the
// multi-threaded and accumulation paths of the CPU kernels (checked against plain loops).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "sadanet/sadanet.h"

using namespace sadanet;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

TEST(MathSemantics, MaxTiesGoToTheFirstElement) {
  Tensor x = from_vector<float>({1, 3, 3, 2, 5, 5}, {2, 3}).set_requires_grad(true);
  Tensor m = max(x, {1});
  EXPECT_EQ(m.to_vector<float>(), (std::vector<float>{3, 5}));
  EXPECT_EQ(argmax(x, 1).to_vector<int64_t>(), (std::vector<int64_t>{1, 1}));
  sum(m).backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{0, 1, 0, 0, 1, 0}));
  // Over all elements too (one group): the first 5.
  Tensor y = from_vector<float>({5, 1, 5}, {3}).set_requires_grad(true);
  max(y).backward();
  EXPECT_EQ(y.grad().to_vector<float>(), (std::vector<float>{1, 0, 0}));
}

TEST(MathSemantics, NaNPropagatesThroughMaxAndArgmax) {
  Tensor x = from_vector<double>({1, kNaN, 3, kNaN}, {4});
  EXPECT_TRUE(std::isnan(max(x).item()));
  EXPECT_EQ(argmax(x, 0).item(), 1.0);  // the first NaN, as torch.argmax
  Tensor cols = from_vector<double>({1, 2, kNaN, 0, 5, 1}, {3, 2});  // inner > 1 path
  auto m = max(cols, {0}).to_vector<double>();
  EXPECT_TRUE(std::isnan(m[0]));  // column 1, NaN, 5
  EXPECT_EQ(m[1], 2.0);           // column 2, 0, 1
  auto mx = maximum(from_vector<float>({1, NAN}, {2}), from_vector<float>({NAN, 0}, {2})).to_vector<float>();
  EXPECT_TRUE(std::isnan(mx[0]) && std::isnan(mx[1]));
  EXPECT_TRUE(std::isnan(relu(from_vector<float>({NAN}, {1})).item()));
  EXPECT_TRUE(std::isnan(clamp(from_vector<float>({NAN}, {1}), 0.0, 1.0).item()));
}

TEST(MathSemantics, MaximumTieGoesToA) {
  Tensor a = from_vector<float>({2, 1}, {2}).set_requires_grad(true);
  Tensor b = from_vector<float>({2, 3}, {2}).set_requires_grad(true);
  sum(maximum(a, b)).backward();
  EXPECT_EQ(a.grad().to_vector<float>(), (std::vector<float>{1, 0}));
  EXPECT_EQ(b.grad().to_vector<float>(), (std::vector<float>{0, 1}));
}

TEST(MathSemantics, EmptyReductions) {
  Tensor e = zeros({2, 0});
  EXPECT_EQ(sum(e, {1}).to_vector<float>(), (std::vector<float>{0, 0}));
  for (float v : mean(e, {1}).to_vector<float>()) EXPECT_TRUE(std::isnan(v));
  for (float v : var(e, {1}).to_vector<float>()) EXPECT_TRUE(std::isnan(v));
  EXPECT_EQ(sum(zeros({0, 3}), {1}).shape(), (Shape{0}));
}

TEST(MathSemantics, VarianceDivisorIsClampedAtZero) {
  Tensor x = from_vector<double>({1, 2}, {2});
  EXPECT_EQ(var(x, {}, 3).item(), kInf);  // torch: sum / max(0, N - correction)
  EXPECT_TRUE(std::isnan(var(from_vector<double>({4}, {1})).item()));
  EXPECT_DOUBLE_EQ(var(x, {}, 0).item(), 0.25);
}

TEST(MathSemantics, ZeroDimTensors) {
  Tensor s = scalar_tensor(3.0).set_requires_grad(true);
  EXPECT_EQ(sum(s, {0}).item(), 3.0);
  EXPECT_EQ(softmax(s, -1).item(), 1.0);
  Tensor y = mul(max(s), 2.0);
  y.backward();
  EXPECT_EQ(s.grad().item(), 2.0);
}

TEST(MathSemantics, NllMeanWithEveryTargetIgnoredIsNaN) {
  Tensor logits = zeros({3, 4});
  Tensor t = from_vector<int64_t>({1, 1, 1}, {3});
  EXPECT_TRUE(std::isnan(cross_entropy(logits, t, Tensor(), Reduction::mean, 1).item()));
  EXPECT_EQ(cross_entropy(logits, t, Tensor(), Reduction::sum, 1).item(), 0.0);
}

TEST(MathSemantics, NormalizeZeroRowHasAFiniteGradient) {
  Tensor x = from_vector<double>({0, 0, 0, 1, 2, 3}, {2, 3}).set_requires_grad(true);
  Tensor y = normalize(x, 1);
  EXPECT_EQ(y.to_vector<double>()[0], 0.0);
  sum(y).backward();
  auto g = x.grad().to_vector<double>();
  // PyTorch: 1/eps for every element of the zero row.
  for (int i = 0; i < 3; ++i) EXPECT_DOUBLE_EQ(g[i], 1e12);
  for (double v : g) EXPECT_TRUE(std::isfinite(v));
}

TEST(MathSemantics, SoftmaxHandlesMinusInfinityAndHugeLogits) {
  auto p = softmax(from_vector<float>({0, -INFINITY, 1000, 1000}, {2, 2}), 1).to_vector<float>();
  EXPECT_EQ(p[0], 1.0f);
  EXPECT_EQ(p[1], 0.0f);
  EXPECT_FLOAT_EQ(p[2], 0.5f);
  auto lp = log_softmax(from_vector<float>({1000, 0}, {1, 2}), 1).to_vector<float>();
  EXPECT_FLOAT_EQ(lp[0], 0.0f);
  EXPECT_FLOAT_EQ(lp[1], -1000.0f);
}

TEST(MathSemantics, LargeF32SumStaysAccurate) {
  // 1e7 * 0.1f: a float accumulator would be off by percent; double gives the exact float.
  const int64_t n = 10'000'000;
  Tensor x = full({n}, 0.1);
  const double want = static_cast<double>(0.1f) * static_cast<double>(n);
  EXPECT_NEAR(sum(x).item(), want, want * 1e-7);
  EXPECT_NEAR(mean(x).item(), 0.1, 1e-7);
  EXPECT_NEAR(var(x).item(), 0.0, 1e-12);
}

// Plain-loop references for shapes that use the parallel and column-blocked kernel paths.
TEST(MathSemantics, LargeReductionsMatchPlainLoops) {
  Generator gen(3);
  for (Shape s : {Shape{3, 70000}, Shape{70000, 3}, Shape{2, 40000, 5}, Shape{1, 300, 1000}}) {
    Tensor x = randn(s, TensorOptions(DType::f64), &gen);
    const int64_t dim = 1;
    const int64_t outer = s[0], r = s[1], inner = s.size() == 3 ? s[2] : 1;
    auto xv = x.to_vector<double>();
    auto sv = sum(x, {dim}).to_vector<double>();
    auto mv = max(x, {dim}).to_vector<double>();
    auto av = argmax(x, dim).to_vector<int64_t>();
    auto vv = var(x, {dim}).to_vector<double>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        double acc = 0, best = -kInf;
        int64_t where = 0;
        for (int64_t j = 0; j < r; ++j) {
          const double v = xv[(o * r + j) * inner + i];
          acc += v;
          if (v > best) { best = v; where = j; }
        }
        const double mu = acc / r;
        double ss = 0;
        for (int64_t j = 0; j < r; ++j) ss += std::pow(xv[(o * r + j) * inner + i] - mu, 2);
        const int64_t k = o * inner + i;
        ASSERT_NEAR(sv[k], acc, 1e-9 * r) << shape_str(s);
        ASSERT_EQ(mv[k], best) << shape_str(s);
        ASSERT_EQ(av[k], where) << shape_str(s);
        ASSERT_NEAR(vv[k], ss / (r - 1), 1e-9) << shape_str(s);
      }
  }
}

TEST(MathSemantics, LargeBroadcastsMatchPlainLoops) {
  Generator gen(4);
  const int64_t R = 301, C = 257;  // odd sizes: thread chunks split rows in the middle
  Tensor a = randn({R, C}, {}, &gen), row = randn({C}, {}, &gen), col = randn({R, 1}, {}, &gen);
  Tensor at = randn({C, R}, {}, &gen).t();  // permuted operand: the generic strided loop
  auto av = a.to_vector<float>(), rv = row.to_vector<float>(), cv = col.to_vector<float>(), tv = at.to_vector<float>();
  auto s1 = add(a, row).to_vector<float>();
  auto s2 = mul(col, a).to_vector<float>();
  auto s3 = sub(at, a).to_vector<float>();
  auto s4 = relu(at).to_vector<float>();
  for (int64_t i = 0; i < R; ++i)
    for (int64_t j = 0; j < C; ++j) {
      const int64_t k = i * C + j;
      ASSERT_EQ(s1[k], av[k] + rv[j]);
      ASSERT_EQ(s2[k], cv[i] * av[k]);
      ASSERT_EQ(s3[k], tv[k] - av[k]);
      ASSERT_EQ(s4[k], std::max(tv[k], 0.0f));
    }
}

TEST(MathSemantics, LargeSoftmaxRowsSumToOne) {
  Generator gen(5);
  for (int64_t dim : {0, 1}) {
    Tensor x = randn({400, 300}, {}, &gen);
    auto p = softmax(x, dim).to_vector<float>();
    auto s = sum(softmax(x, dim), {dim}).to_vector<float>();
    for (float v : s) ASSERT_NEAR(v, 1.0f, 1e-5f);
    auto lp = log_softmax(x, dim).to_vector<float>();
    for (size_t i = 0; i < p.size(); ++i) ASSERT_NEAR(std::exp(lp[i]), p[i], 1e-6f);
  }
}

TEST(MathSemantics, IndexingMovesIntegerTensors) {
  // Selecting a batch of labels by a permutation is index_select on an i64 tensor.
  Tensor labels = from_vector<int64_t>({10, 11, 12, 13}, {4});
  Tensor perm = from_vector<int64_t>({3, 0, 2}, {3});
  EXPECT_EQ(index_select(labels, 0, perm).to_vector<int64_t>(), (std::vector<int64_t>{13, 10, 12}));
  Tensor acc = eq(argmax(from_vector<float>({0, 1, 2, 0}, {2, 2}), 1), from_vector<int64_t>({1, 1}, {2}));
  EXPECT_EQ(acc.to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
}

}  // namespace
