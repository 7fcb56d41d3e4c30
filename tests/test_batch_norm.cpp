// batch_norm: the three modes against naive formulas, the running-statistics update (train
// only, unbiased variance, momentum), mode names, and input validation.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "op_table.h"
#include "support/golden.h"

namespace sadanet::test {
namespace {

struct Stats {
  std::vector<double> mean, var;  // biased variance
};
Stats naive_stats(const std::vector<double>& x, int64_t N, int64_t C, int64_t S) {
  Stats s{std::vector<double>(C, 0.0), std::vector<double>(C, 0.0)};
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < S; ++i) s.mean[c] += x[(n * C + c) * S + i];
    s.mean[c] /= N * S;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < S; ++i) s.var[c] += std::pow(x[(n * C + c) * S + i] - s.mean[c], 2);
    s.var[c] /= N * S;
  }
  return s;
}

void check_mode(Shape xs, BatchNormMode mode, DType dt, Generator& gen) {
  const int64_t N = xs[0], C = xs[1], S = shape_numel(xs) / (N * C);
  const TensorOptions o(dt);
  Tensor x = normal(xs, 3.0, 2.0, o, &gen);  // mean far from 0: exercises the two-pass variance
  Tensor w = randn({C}, o, &gen), b = randn({C}, o, &gen);
  Tensor rm = randn({C}, o, &gen), rv = uniform({C}, 0.5, 2.0, o, &gen);
  const auto rm0 = rm.to_vector<double>(), rv0 = rv.to_vector<double>();
  const double momentum = 0.3, eps = 1e-5;
  Tensor y = batch_norm(x, w, b, rm, rv, mode, momentum, eps);

  const auto xv = x.to_vector<double>(), wv = w.to_vector<double>(), bv = b.to_vector<double>();
  const Stats st = naive_stats(xv, N, C, S);
  const bool train = mode == BatchNormMode::train;
  std::vector<double> want(xv.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < S; ++i) {
        const double m = train ? st.mean[c] : rm0[c], v = train ? st.var[c] : rv0[c];
        const int64_t k = (n * C + c) * S + i;
        want[k] = (xv[k] - m) / std::sqrt(v + eps) * wv[c] + bv[c];
      }
  const double tol = dt == DType::f32 ? 1e-5 : 1e-12;
  std::string d = compare(y, from_vector(want, xs), tol, tol);
  EXPECT_TRUE(d.empty()) << batch_norm_mode_name(mode) << " forward: " << d;

  std::vector<double> rm_want = rm0, rv_want = rv0;
  if (train) {
    const double M = static_cast<double>(N * S);
    for (int64_t c = 0; c < C; ++c) {
      rm_want[c] = (1 - momentum) * rm0[c] + momentum * st.mean[c];
      rv_want[c] = (1 - momentum) * rv0[c] + momentum * st.var[c] * M / (M - 1);
    }
  }
  d = compare(rm, from_vector(rm_want, {C}), tol, tol);
  EXPECT_TRUE(d.empty()) << batch_norm_mode_name(mode) << " running_mean: " << d;
  d = compare(rv, from_vector(rv_want, {C}), tol, tol);
  EXPECT_TRUE(d.empty()) << batch_norm_mode_name(mode) << " running_var: " << d;
}

TEST(BatchNorm, ModesMatchNaive) {
  Generator gen(run_seed());
  for (DType dt : {DType::f32, DType::f64})
    for (auto mode : {BatchNormMode::train, BatchNormMode::eval, BatchNormMode::frozen}) {
      check_mode({4, 3, 5, 6}, mode, dt, gen);
      check_mode({16, 5}, mode, dt, gen);
    }
}

TEST(BatchNorm, FrozenAndEvalGiveGradientsToWeightAndBias) {
  for (auto mode : {BatchNormMode::eval, BatchNormMode::frozen}) {
    Tensor x = randn({2, 3, 2, 2}).set_requires_grad(true);
    Tensor w = ones({3}).set_requires_grad(true), b = zeros({3}).set_requires_grad(true);
    Tensor rm = zeros({3}), rv = ones({3});
    batch_norm(x, w, b, rm, rv, mode).backward(ones({2, 3, 2, 2}));
    ASSERT_TRUE(w.grad().defined() && b.grad().defined() && x.grad().defined());
    EXPECT_NEAR(b.grad().to_vector<double>()[0], 8.0, 1e-6);
    EXPECT_FALSE(rm.grad().defined());
  }
}

TEST(BatchNorm, ModeNames) {
  for (auto m : {BatchNormMode::train, BatchNormMode::eval, BatchNormMode::frozen})
    EXPECT_EQ(batch_norm_mode_from_name(batch_norm_mode_name(m)), m);
  EXPECT_THROW(batch_norm_mode_from_name("training"), Error);
}

TEST(BatchNorm, RejectsBadInputs) {
  Tensor rm = zeros({3}), rv = ones({3});
  EXPECT_THROW(batch_norm(randn({2, 3, 4}), Tensor(), Tensor(), rm, rv, BatchNormMode::eval), Error);  // 3-D
  EXPECT_THROW(batch_norm(randn({2, 4, 2, 2}), Tensor(), Tensor(), rm, rv, BatchNormMode::eval), Error);  // C
  EXPECT_THROW(batch_norm(randn({2, 3}), Tensor(), Tensor(), Tensor(), Tensor(), BatchNormMode::eval), Error);
  EXPECT_THROW(batch_norm(randn({1, 3}), Tensor(), Tensor(), rm, rv, BatchNormMode::train), Error);  // 1 value
  EXPECT_THROW(batch_norm(randn({2, 3}), Tensor(), Tensor(), rm.to(DType::f64), rv, BatchNormMode::eval), Error);
}

}  // namespace
}  // namespace sadanet::test
