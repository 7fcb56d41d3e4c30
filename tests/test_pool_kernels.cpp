// max_pool2d forward (values and argmax indices), backward (scatter, overlapping windows) and
// global_avg_pool2d against naive loops, on fresh random inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/kernels.h"
#include "op_table.h"
#include "support/golden.h"

namespace sadanet::test {
namespace {

void check_max_pool(Shape xs, Pool2dParams p, DType dt, Generator& gen) {
  const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3];
  const int64_t Ho = (H + 2 * p.pad_h - p.kernel_h) / p.stride_h + 1;
  const int64_t Wo = (W + 2 * p.pad_w - p.kernel_w) / p.stride_w + 1;
  Tensor x = randn(xs, TensorOptions(dt), &gen).set_requires_grad(true);
  Tensor y = max_pool2d(x, p);
  ASSERT_EQ(y.shape(), (Shape{N, C, Ho, Wo}));
  Tensor gy = randn(y.shape(), TensorOptions(dt), &gen);
  y.backward(gy);

  // The kernel's indices, called directly.
  Tensor y2 = empty(y.shape(), TensorOptions(dt)), idx = empty(y.shape(), TensorOptions(DType::i64));
  kernels::max_pool2d_forward().get(kCPU)(x.detach(), p, y2, idx);

  const auto xv = x.to_vector<double>(), gyv = gy.to_vector<double>(), yv = y.to_vector<double>();
  const auto iv = idx.to_vector<int64_t>();
  std::vector<double> gx(xv.size(), 0.0);
  for (int64_t pl = 0; pl < N * C; ++pl)
    for (int64_t oh = 0; oh < Ho; ++oh)
      for (int64_t ow = 0; ow < Wo; ++ow) {
        double best = -std::numeric_limits<double>::infinity();
        int64_t arg = -1;
        for (int64_t i = 0; i < p.kernel_h; ++i)
          for (int64_t j = 0; j < p.kernel_w; ++j) {
            const int64_t h = oh * p.stride_h - p.pad_h + i, w = ow * p.stride_w - p.pad_w + j;
            if (h < 0 || h >= H || w < 0 || w >= W) continue;
            if (xv[pl * H * W + h * W + w] > best) { best = xv[pl * H * W + h * W + w]; arg = h * W + w; }
          }
        const int64_t o = (pl * Ho + oh) * Wo + ow;
        ASSERT_EQ(yv[o], best) << "forward at " << o;
        ASSERT_EQ(iv[o], arg) << "index at " << o;
        gx[pl * H * W + arg] += gyv[o];
      }
  const std::string d = compare(x.grad(), from_vector(gx, xs), 1e-6, 1e-6);
  EXPECT_TRUE(d.empty()) << "max_pool2d backward: " << d;
}

TEST(PoolKernels, MaxPoolMatchesNaive) {
  Generator gen(run_seed());
  for (DType dt : {DType::f32, DType::f64}) {
    check_max_pool({2, 3, 9, 9}, Pool2dParams::make(3, 2, 1), dt, gen);  // ResNet stem pool, overlapping
    check_max_pool({2, 2, 8, 6}, Pool2dParams::make(2, 2, 0), dt, gen);
    check_max_pool({1, 2, 7, 5}, Pool2dParams::make(2, 2, 0), dt, gen);  // odd sizes drop the last row/col
    check_max_pool({1, 3, 6, 7}, {3, 2, 1, 2, 1, 1}, dt, gen);          // non-square kernel and stride
  }
}

TEST(PoolKernels, MaxPoolTiesKeepFirstAndNanWins) {
  // All-equal window: the first element (top-left) is the argmax, as PyTorch.
  Tensor x = ones({1, 1, 2, 2});
  Tensor y = empty({1, 1, 1, 1}), idx = empty({1, 1, 1, 1}, TensorOptions(DType::i64));
  kernels::max_pool2d_forward().get(kCPU)(x, Pool2dParams::make(2, 2, 0), y, idx);
  EXPECT_EQ(idx.item(), 0.0);
  Tensor xn = from_vector<float>({1.f, std::nanf(""), 3.f, 2.f}, {1, 1, 2, 2});
  kernels::max_pool2d_forward().get(kCPU)(xn, Pool2dParams::make(2, 2, 0), y, idx);
  EXPECT_TRUE(std::isnan(y.item()));
  EXPECT_EQ(idx.item(), 1.0);
}

TEST(PoolKernels, MaxPoolRejectsBadParams) {
  Tensor x = randn({1, 1, 4, 4});
  EXPECT_THROW(max_pool2d(x, Pool2dParams::make(2, 2, 2)), Error);  // padding > kernel/2
  EXPECT_THROW(max_pool2d(x, Pool2dParams::make(5, 1, 0)), Error);  // kernel > input
  EXPECT_THROW(max_pool2d(randn({4, 4}), Pool2dParams::make(2, 2, 0)), Error);
}

TEST(PoolKernels, GlobalAvgPool) {
  Generator gen(run_seed() + 3);
  Tensor x = randn({2, 3, 4, 5}, TensorOptions(DType::f64), &gen);
  Tensor y = global_avg_pool2d(x);
  ASSERT_EQ(y.shape(), (Shape{2, 3}));
  const auto xv = x.to_vector<double>(), yv = y.to_vector<double>();
  for (int64_t pl = 0; pl < 6; ++pl) {
    double s = 0;
    for (int64_t i = 0; i < 20; ++i) s += xv[pl * 20 + i];
    EXPECT_NEAR(yv[pl], s / 20, 1e-12);
  }
}

}  // namespace
}  // namespace sadanet::test
