// Tensor metadata, views, copies, conversions and factories.
#include <gtest/gtest.h>

#include <cmath>

#include "op_table.h"
#include "sadanet/sadanet.h"

using namespace sadanet;

namespace {
Tensor iota(const Shape& s, DType t = DType::f32) { return arange(0, static_cast<double>(shape_numel(s))).to(t).reshape(s); }
}  // namespace

TEST(Tensor, ContiguousStridesAndViewsShareStorage) {
  Tensor a = iota({2, 3, 4});
  EXPECT_EQ(a.strides(), (Shape{12, 4, 1}));
  EXPECT_TRUE(a.is_contiguous());
  Tensor p = a.permute({2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.strides(), (Shape{1, 12, 4}));
  EXPECT_FALSE(p.is_contiguous());
  EXPECT_EQ(p.storage(), a.storage());
  Tensor c = p.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_NE(c.storage(), a.storage());
  // element (k, i, j) of p is a[i, j, k] = 12i + 4j + k
  auto v = c.to_vector<float>();
  EXPECT_EQ(v[0 * 6 + 1 * 3 + 2], 12 * 1 + 4 * 2 + 0);
  EXPECT_EQ(v[3 * 6 + 0 * 3 + 1], 4 * 1 + 3);
}

TEST(Tensor, ReshapeViewsWhenItCanAndCopiesWhenItMust) {
  Tensor a = iota({4, 6});
  EXPECT_EQ(a.reshape({2, 12}).storage(), a.storage());
  Tensor t = a.t();
  EXPECT_THROW(t.view({24}), Error);
  Tensor r = t.reshape({24});
  EXPECT_NE(r.storage(), a.storage());
  EXPECT_EQ(r.to_vector<float>()[1], 6.0f);
  EXPECT_EQ(a.reshape({-1, 3}).shape(), (Shape{8, 3}));
  EXPECT_THROW(a.reshape({5, -1}), Error);
  EXPECT_THROW(a.reshape({-1, -1}), Error);
}

TEST(Tensor, SliceSelectExpand) {
  Tensor a = iota({5, 4});
  Tensor s = a.slice(0, 1, 5, 2);  // rows 1, 3
  EXPECT_EQ(s.shape(), (Shape{2, 4}));
  EXPECT_EQ(s.to_vector<float>(), (std::vector<float>{4, 5, 6, 7, 12, 13, 14, 15}));
  EXPECT_EQ(a.select(1, -1).to_vector<float>(), (std::vector<float>{3, 7, 11, 15, 19}));
  Tensor e = iota({3, 1}).expand({2, 3, 4});
  EXPECT_EQ(e.strides()[0], 0);
  EXPECT_EQ(e.contiguous().to_vector<float>()[4 * 2 + 3 + 12], 2.0f);
  EXPECT_THROW(iota({3, 2}).expand({3, 4}), Error);
  EXPECT_THROW(a.select(0, 5), Error);
  EXPECT_THROW(a.permute({0, 0}), Error);
  EXPECT_THROW(a.size(2), Error);
}

TEST(Tensor, DtypeConversionsRoundTrip) {
  Generator g(test::run_seed());
  Tensor x = randn({64}, TensorOptions(DType::f32), &g);
  auto xf = x.to_vector<float>();
  auto d = x.to(DType::f64).to(DType::f32).to_vector<float>();
  EXPECT_EQ(xf, d);
  auto h = x.to(DType::f16).to(DType::f32).to_vector<float>();
  auto b = x.to(DType::bf16).to(DType::f32).to_vector<float>();
  for (size_t i = 0; i < xf.size(); ++i) {
    EXPECT_NEAR(h[i], xf[i], std::abs(xf[i]) * 1e-3 + 1e-7);
    EXPECT_NEAR(b[i], xf[i], std::abs(xf[i]) * 8e-3 + 1e-30);
  }
  Tensor f = from_vector<float>({-2.7f, -0.5f, 0.5f, 300.f}, {4});
  EXPECT_EQ(f.to(DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{-2, 0, 0, 300}));
  EXPECT_EQ(from_vector<int64_t>({7, 255, 0}, {3}).to(DType::u8).to_vector<uint8_t>(), (std::vector<uint8_t>{7, 255, 0}));
}

TEST(Tensor, HalfAndBfloatConversionIsExactWhereRepresentable) {
  // Values representable in both formats survive exactly; rounding is to nearest even.
  for (float v : {0.0f, -0.0f, 1.0f, -2.5f, 0.125f, 1024.0f, 49152.0f}) {
    EXPECT_EQ(static_cast<float>(f16(v)), v);
    EXPECT_EQ(static_cast<float>(bf16(v)), v);
  }
  EXPECT_EQ(static_cast<float>(f16(65504.0f)), 65504.0f);  // largest half
  EXPECT_EQ(static_cast<float>(bf16(65504.0f)), 65536.0f);  // bf16 keeps 8 significant bits
  EXPECT_EQ(static_cast<float>(f16(1e6f)), INFINITY);
  EXPECT_TRUE(std::isnan(static_cast<float>(f16(NAN))));
  EXPECT_TRUE(std::isnan(static_cast<float>(bf16(NAN))));
  EXPECT_EQ(static_cast<float>(f16(5.960464477539063e-08f)), 5.960464477539063e-08f);  // smallest subnormal
  EXPECT_EQ(f16(1.0f + 1.0f / 2048).bits, f16(1.0f).bits);  // tie rounds to even
  EXPECT_EQ(bf16(1.0f + 1.0f / 256).bits, bf16(1.0f).bits);
}

TEST(Tensor, CopyBroadcastsAndConverts) {
  Tensor dst = zeros({2, 3}, TensorOptions(DType::f64));
  dst.copy_(from_vector<float>({1, 2, 3}, {3}));
  EXPECT_EQ(dst.to_vector<double>(), (std::vector<double>{1, 2, 3, 1, 2, 3}));
  Tensor col = zeros({4, 2});
  col.slice(1, 1, 2).copy_(full({4, 1}, 5.0));
  EXPECT_EQ(col.to_vector<float>(), (std::vector<float>{0, 5, 0, 5, 0, 5, 0, 5}));
  EXPECT_THROW(dst.copy_(zeros({4})), Error);
}

TEST(Tensor, FactoriesAndItem) {
  EXPECT_EQ(arange(0, 5).to_vector<float>(), (std::vector<float>{0, 1, 2, 3, 4}));
  EXPECT_EQ(arange(1, 2, 0.25, DType::f64).numel(), 4);
  EXPECT_EQ(arange(5, 0, -2, DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{5, 3, 1}));
  EXPECT_THROW(arange(0, 5, 0), Error);
  EXPECT_THROW(arange(0, 5, -1), Error);
  EXPECT_EQ(full({2, 2}, 3.5).to_vector<float>(), (std::vector<float>{3.5f, 3.5f, 3.5f, 3.5f}));
  EXPECT_DOUBLE_EQ(scalar_tensor(2.5).item(), 2.5);
  EXPECT_THROW(ones({2}).item(), Error);
  EXPECT_THROW(empty({-1}), Error);
  EXPECT_EQ(zeros({0, 3}).numel(), 0);
  EXPECT_EQ(zeros({}).numel(), 1);
}

TEST(Tensor, UnbuiltDeviceIsAClearError) {
  if (cuda_built()) GTEST_SKIP() << "CUDA is built in";
  try {
    zeros({2}, TensorOptions(Device(DeviceType::cuda, 0)));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not built"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Device::parse("gpu"), Error);
  EXPECT_THROW(Device::parse("cuda:x"), Error);
  EXPECT_EQ(Device::parse("cuda:1").index, 1);
}

TEST(Tensor, DataAccessChecksDtype) {
  Tensor a = zeros({3});
  EXPECT_NO_THROW(a.data<float>());
  EXPECT_THROW(a.data<double>(), Error);
  EXPECT_THROW(Tensor().shape(), Error);
  EXPECT_NE(a.str().find("[3]"), std::string::npos);
}
