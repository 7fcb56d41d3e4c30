// conv2d forward, backward-input and backward-weight against a naive direct convolution in
// double, through the op and autograd (which call the CPU kernels), in f32 and f64, on fresh
// random inputs. Batches of 1, 3 and 4 exercise both threading paths of the kernels.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "op_table.h"
#include "support/golden.h"

namespace sadanet::test {
namespace {

struct ConvCase {
  int64_t N, C, H, W, O, kh, kw;
  Conv2dParams p;
};

struct Naive {
  std::vector<double> y, gx, gw, gb;
};

// y[n,o,oh,ow] = b[o] + sum_{c,i,j} x[n,c,oh*sh-ph+i*dh, ow*sw-pw+j*dw] w[o,c,i,j]; and its adjoints for gy.
Naive naive_conv(const ConvCase& c, int64_t Ho, int64_t Wo, const std::vector<double>& x,
                 const std::vector<double>& w, const std::vector<double>& b, const std::vector<double>& gy) {
  Naive r;
  r.y.assign(c.N * c.O * Ho * Wo, 0.0);
  r.gx.assign(x.size(), 0.0);
  r.gw.assign(w.size(), 0.0);
  r.gb.assign(c.O, 0.0);
  const auto& p = c.p;
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t o = 0; o < c.O; ++o)
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) {
          const int64_t yi = ((n * c.O + o) * Ho + oh) * Wo + ow;
          double s = b.empty() ? 0.0 : b[o];
          r.gb[o] += gy[yi];
          for (int64_t ci = 0; ci < c.C; ++ci)
            for (int64_t i = 0; i < c.kh; ++i)
              for (int64_t j = 0; j < c.kw; ++j) {
                const int64_t ih = oh * p.stride_h - p.pad_h + i * p.dilation_h;
                const int64_t iw = ow * p.stride_w - p.pad_w + j * p.dilation_w;
                if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
                const int64_t xi = ((n * c.C + ci) * c.H + ih) * c.W + iw;
                const int64_t wi = ((o * c.C + ci) * c.kh + i) * c.kw + j;
                s += x[xi] * w[wi];
                r.gx[xi] += gy[yi] * w[wi];
                r.gw[wi] += gy[yi] * x[xi];
              }
          r.y[yi] = s;
        }
  return r;
}

void run_case(const ConvCase& c, DType dt, bool bias, Generator& gen) {
  const auto& p = c.p;
  const int64_t Ho = (c.H + 2 * p.pad_h - p.dilation_h * (c.kh - 1) - 1) / p.stride_h + 1;
  const int64_t Wo = (c.W + 2 * p.pad_w - p.dilation_w * (c.kw - 1) - 1) / p.stride_w + 1;
  const TensorOptions o(dt);
  Tensor x = randn({c.N, c.C, c.H, c.W}, o, &gen).set_requires_grad(true);
  Tensor w = randn({c.O, c.C, c.kh, c.kw}, o, &gen).set_requires_grad(true);
  Tensor b = bias ? randn({c.O}, o, &gen).set_requires_grad(true) : Tensor();
  Tensor gy = randn({c.N, c.O, Ho, Wo}, o, &gen);
  Tensor y = conv2d(x, w, b, p);
  ASSERT_EQ(y.shape(), (Shape{c.N, c.O, Ho, Wo}));
  y.backward(gy);
  const Naive want = naive_conv(c, Ho, Wo, x.to_vector<double>(), w.to_vector<double>(),
                                bias ? b.to_vector<double>() : std::vector<double>{}, gy.to_vector<double>());
  // f32 sums of up to a few hundred products: errors scale with the sum's magnitude.
  const double atol = dt == DType::f32 ? 2e-4 : 1e-10, rtol = dt == DType::f32 ? 1e-4 : 1e-10;
  const std::string what = std::string(dtype_name(dt)) + " N" + std::to_string(c.N) + " C" + std::to_string(c.C) +
                           " " + std::to_string(c.H) + "x" + std::to_string(c.W) + " O" + std::to_string(c.O) +
                           " k" + std::to_string(c.kh) + "x" + std::to_string(c.kw);
  auto cmp = [&](const Tensor& got, const std::vector<double>& v, const Shape& s, const char* name) {
    const std::string d = compare(got, from_vector(v, s), atol, rtol);
    EXPECT_TRUE(d.empty()) << what << " " << name << ": " << d;
  };
  cmp(y, want.y, y.shape(), "forward");
  cmp(x.grad(), want.gx, x.shape(), "grad_x");
  cmp(w.grad(), want.gw, w.shape(), "grad_w");
  if (bias) cmp(b.grad(), want.gb, b.shape(), "grad_b");
}

const std::vector<ConvCase>& conv_cases() {
  static const std::vector<ConvCase> cs = {
      {2, 5, 6, 7, 4, 1, 1, Conv2dParams::make(1, 0)},         // pointwise: GEMM straight on x
      {3, 6, 7, 7, 5, 1, 1, Conv2dParams::make(2, 0)},         // 1x1 stride 2 (downsample)
      {4, 3, 8, 8, 6, 3, 3, Conv2dParams::make(1, 1)},         // 3x3 same
      {1, 4, 9, 6, 3, 3, 3, Conv2dParams::make(2, 1)},         // 3x3 stride 2, non-square input
      {2, 3, 15, 13, 4, 7, 7, Conv2dParams::make(2, 3)},       // 7x7 stride 2 (ResNet stem)
      {3, 2, 9, 10, 3, 3, 3, Conv2dParams::make(1, 2, 2)},     // dilation 2
      {2, 3, 8, 9, 4, 3, 5, {2, 1, 1, 2, 1, 1}},               // non-square kernel, stride, padding
      {4, 2, 5, 5, 3, 5, 5, Conv2dParams::make(3, 0)},         // kernel covers the input: 1x1 output
  };
  return cs;
}

TEST(ConvKernels, MatchesNaiveF32) {
  Generator gen(run_seed());
  for (const auto& c : conv_cases())
    for (bool bias : {true, false}) run_case(c, DType::f32, bias, gen);
}

TEST(ConvKernels, MatchesNaiveF64) {
  Generator gen(run_seed() + 7);
  for (const auto& c : conv_cases()) run_case(c, DType::f64, true, gen);
}

// Larger problems: the GEMM's blocking and threading, and every way the kernels cut the batch
// (images grouped side by side or one by one; threads across groups or inside each GEMM).
TEST(ConvKernels, MatchesNaiveLargerShapes) {
  Generator gen(run_seed() + 11);
  // (with 2+ threads; SADANET_CONV_PLAN=G,split[,col_kb] forces other cuts for the same test)
  run_case({2, 64, 10, 10, 32, 3, 3, Conv2dParams::make(1, 1)}, DType::f32, true, gen);   // image per thread
  run_case({4, 64, 8, 8, 64, 1, 1, Conv2dParams::make(1, 0)}, DType::f32, true, gen);     // pointwise, grouped
  run_case({8, 16, 16, 16, 16, 3, 3, Conv2dParams::make(1, 1)}, DType::f32, true, gen);   // 4 groups of 2
  run_case({3, 8, 24, 24, 8, 3, 3, Conv2dParams::make(1, 1)}, DType::f32, true, gen);     // threads inside GEMMs
  run_case({4, 8, 23, 23, 12, 3, 3, Conv2dParams::make(2, 1)}, DType::f64, true, gen);
}

TEST(ConvKernels, RejectsBadInputs) {
  Tensor x = randn({1, 3, 5, 5}), w = randn({4, 3, 3, 3});
  EXPECT_THROW(conv2d(x, randn({4, 2, 3, 3}), Tensor(), Conv2dParams::make(1, 1)), Error);  // channel mismatch
  EXPECT_THROW(conv2d(x, w, randn({3}), Conv2dParams::make(1, 1)), Error);                 // bias size
  EXPECT_THROW(conv2d(x.to(DType::f64), w, Tensor(), Conv2dParams::make(1, 1)), Error);    // dtype mismatch
  EXPECT_THROW(conv2d(randn({3, 5, 5}), w, Tensor(), Conv2dParams::make(1, 1)), Error);    // not 4-D
  EXPECT_THROW(conv2d(x, randn({4, 3, 7, 7}), Tensor(), Conv2dParams::make(1, 0)), Error); // kernel > input
  try {
    conv2d(x, randn({4, 2, 3, 3}), Tensor(), Conv2dParams::make(1, 1));
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("conv2d"), std::string::npos) << m;
    EXPECT_NE(m.find("[4, 2, 3, 3]"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace sadanet::test
