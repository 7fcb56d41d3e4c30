// The autograd engine: accumulation, retain_graph, no_grad, detach, retained intermediates.
#include <gtest/gtest.h>

#include <cmath>

#include "op_table.h"
#include "sadanet/sadanet.h"

using namespace sadanet;

namespace {
Tensor leaf(std::vector<float> v) {
  Tensor t = from_vector(v, {static_cast<int64_t>(v.size())});
  t.set_requires_grad(true);
  return t;
}
}  // namespace

TEST(Autograd, GradientsAccumulateIntoLeavesAcrossBackwardCalls) {
  Tensor x = leaf({1, 2, 3});
  sum(mul(x, x)).backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{2, 4, 6}));
  sum(mul(x, 3.0)).backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{5, 7, 9}));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, SecondBackwardNeedsRetainGraph) {
  Tensor x = leaf({1, 2});
  Tensor y = sum(exp(x));
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();
  auto g = x.grad().to_vector<float>();
  EXPECT_NEAR(g[0], 2 * std::exp(1.0f), 1e-5);
  EXPECT_THROW(y.backward(), Error);
}

TEST(Autograd, BackwardNeedsScalarOrGradient) {
  Tensor x = leaf({1, 2});
  Tensor y = mul(x, 2.0);
  EXPECT_THROW(y.backward(), Error);
  EXPECT_THROW(y.backward(ones({3})), Error);
  y.backward(from_vector<float>({1, 10}, {2}));
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{2, 20}));
  EXPECT_THROW(ones({1}).backward(), Error);  // nothing requires grad
}

TEST(Autograd, NoGradAndDetachCutTheGraph) {
  Tensor x = leaf({1, 2});
  {
    NoGradGuard ng;
    Tensor y = mul(x, x);
    EXPECT_FALSE(y.requires_grad());
  }
  EXPECT_TRUE(grad_enabled());
  Tensor d = mul(x, 2.0).detach();
  EXPECT_FALSE(d.requires_grad());
  Tensor z = sum(mul(d, x));  // d is a constant
  z.backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{2, 4}));
}

TEST(Autograd, RetainGradCapturesAnIntermediate) {
  // The local-alignment loss reads the last feature map: both its value and its gradient.
  Tensor x = leaf({1, 2, 3});
  Tensor feat = mul(x, 2.0);
  feat.retain_grad();
  Tensor loss = sum(mul(feat, feat));
  loss.backward();
  ASSERT_TRUE(feat.grad().defined());
  EXPECT_EQ(feat.grad().to_vector<float>(), (std::vector<float>{4, 8, 12}));
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{8, 16, 24}));
}

TEST(Autograd, InPlaceOnTensorsThatNeedGradIsRefused) {
  Tensor x = leaf({1, 2});
  EXPECT_THROW(x.fill_(0), Error);
  {
    NoGradGuard ng;
    x.fill_(3);  // optimizer-style update is fine
  }
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{3, 3}));
  Tensor y = mul(x, 2.0);
  EXPECT_THROW(y.set_requires_grad(false), Error);
}

TEST(Autograd, DeepChainDoesNotRecurse) {
  // A long graph must not overflow the stack (the engine is iterative).
  Tensor x = leaf({1});
  Tensor y = x;
  for (int i = 0; i < 20000; ++i) y = add(y, 1.0);
  y.backward();
  EXPECT_EQ(x.grad().to_vector<float>()[0], 1.0f);
}

TEST(Autograd, GradOfSharedSubgraphIsCountedOnce) {
  Generator g(test::run_seed());
  Tensor x = randn({5}, TensorOptions(DType::f64), &g).set_requires_grad(true);
  Tensor h = exp(x);            // used by two consumers
  Tensor y = sum(add(mul(h, 2.0), h));
  y.backward();
  auto gx = x.grad().to_vector<double>(), hx = h.to_vector<double>();
  for (size_t i = 0; i < gx.size(); ++i) EXPECT_NEAR(gx[i], 3 * hx[i], 1e-12);
}

TEST(Autograd, MultipleRootsAndDtypeOfGradient) {
  Tensor x = from_vector<double>({1, 2}, {2});
  x.set_requires_grad(true);
  Tensor a = sum(mul(x, 3.0)), b = sum(mul(x, x));
  autograd::backward({a, b}, {Tensor(), Tensor()}, false);
  EXPECT_EQ(x.grad().dtype(), DType::f64);
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{5, 7}));
}
