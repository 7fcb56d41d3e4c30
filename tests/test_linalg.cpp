// matmul/bmm/linear: torch.matmul's shape rules, values against a naive product for strided,
// transposed and broadcast operands, and input validation.
#include <gtest/gtest.h>

#include <vector>

#include "op_table.h"
#include "support/golden.h"

namespace sadanet::test {
namespace {

// Naive reference: contiguous copies, explicit broadcast over batch dims (as matmul defines it).
Tensor naive_matmul(const Tensor& a, const Tensor& b) {
  Tensor a2 = a.dim() == 1 ? a.unsqueeze(0) : a, b2 = b.dim() == 1 ? b.unsqueeze(1) : b;
  const int64_t m = a2.size(-2), k = a2.size(-1), n = b2.size(-1);
  Shape ba(a2.shape().begin(), a2.shape().end() - 2), bb(b2.shape().begin(), b2.shape().end() - 2);
  const size_t nb = std::max(ba.size(), bb.size());
  while (ba.size() < nb) ba.insert(ba.begin(), 1);
  while (bb.size() < nb) bb.insert(bb.begin(), 1);
  Shape batch(nb);
  for (size_t i = 0; i < nb; ++i) batch[i] = std::max(ba[i], bb[i]);
  Shape sa = batch, sb = batch, sc = batch;
  sa.insert(sa.end(), {m, k});
  sb.insert(sb.end(), {k, n});
  sc.insert(sc.end(), {m, n});
  const auto av = a2.reshape([&] { Shape s = ba; s.insert(s.end(), {m, k}); return s; }()).expand(sa).contiguous().to_vector<double>();
  const auto bv = b2.reshape([&] { Shape s = bb; s.insert(s.end(), {k, n}); return s; }()).expand(sb).contiguous().to_vector<double>();
  const int64_t B = shape_numel(batch);
  std::vector<double> c(B * m * n, 0.0);
  for (int64_t q = 0; q < B; ++q)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j)
        for (int64_t p = 0; p < k; ++p) c[(q * m + i) * n + j] += av[(q * m + i) * k + p] * bv[(q * k + p) * n + j];
  Shape out(batch);
  if (a.dim() > 1) out.push_back(m);
  if (b.dim() > 1) out.push_back(n);
  return from_vector(c, out);
}

void expect_matmul(const Tensor& a, const Tensor& b, const Shape& want_shape) {
  Tensor y = matmul(a, b);
  ASSERT_EQ(y.shape(), want_shape) << "a " << shape_str(a.shape()) << " b " << shape_str(b.shape());
  const std::string d = compare(y, naive_matmul(a, b), 1e-4, 1e-4);
  EXPECT_TRUE(d.empty()) << "a " << shape_str(a.shape()) << " b " << shape_str(b.shape()) << ": " << d;
}

TEST(Linalg, MatmulShapesAndValues) {
  Generator gen(run_seed());
  auto r = [&](Shape s) { return randn(s, TensorOptions(), &gen); };
  expect_matmul(r({5}), r({5}), {});
  expect_matmul(r({4}), r({4, 3}), {3});
  expect_matmul(r({3, 4}), r({4}), {3});
  expect_matmul(r({3, 4}), r({4, 6}), {3, 6});
  expect_matmul(r({4}), r({2, 4, 3}), {2, 3});
  expect_matmul(r({2, 3, 4}), r({4}), {2, 3});
  expect_matmul(r({2, 3, 4}), r({4, 5}), {2, 3, 5});
  expect_matmul(r({3, 4}), r({2, 4, 5}), {2, 3, 5});
  expect_matmul(r({2, 1, 3, 4}), r({5, 4, 2}), {2, 5, 3, 2});
  expect_matmul(r({2, 1, 3, 4}), r({1, 5, 4, 2}), {2, 5, 3, 2});
  // Strided operands: transposed views, a column slice, an expanded (stride 0) batch.
  expect_matmul(r({4, 3}).t(), r({6, 4}).t(), {3, 6});
  expect_matmul(r({3, 8}).slice(1, 0, 8, 2), r({4, 5}), {3, 5});
  expect_matmul(r({2, 4, 3}).transpose(1, 2), r({2, 5, 4}).transpose(1, 2), {2, 3, 5});
  expect_matmul(r({1, 3, 4}).expand({4, 3, 4}), r({4, 4, 2}), {4, 3, 2});
  // Large enough for the GEMM's threading.
  expect_matmul(r({130, 150}), r({150, 120}), {130, 120});
  // Empty dimensions: k = 0 gives zeros, m = 0 an empty result.
  expect_matmul(zeros({2, 3, 0}), zeros({0, 4}), {2, 3, 4});
  expect_matmul(zeros({0, 3}), r({3, 4}), {0, 4});
}

TEST(Linalg, BmmAndLinear) {
  Generator gen(run_seed() + 1);
  Tensor a = randn({3, 2, 4}, TensorOptions(), &gen), b = randn({3, 4, 5}, TensorOptions(), &gen);
  std::string d = compare(bmm(a, b), naive_matmul(a, b), 1e-5, 1e-5);
  EXPECT_TRUE(d.empty()) << d;
  Tensor x = randn({2, 3, 5}, TensorOptions(), &gen), w = randn({4, 5}, TensorOptions(), &gen);
  Tensor bias = randn({4}, TensorOptions(), &gen);
  d = compare(linear(x, w, bias), add(naive_matmul(x, w.t()), bias.to(DType::f64)), 1e-5, 1e-5);
  EXPECT_TRUE(d.empty()) << d;
}

TEST(Linalg, GradientsOfBroadcastBatch) {
  // b [4,3] broadcast over a's batch: its gradient sums over the batch.
  Tensor a = randn({2, 5, 4}, TensorOptions(DType::f64)).set_requires_grad(true);
  Tensor b = randn({1, 4, 3}, TensorOptions(DType::f64)).set_requires_grad(true);
  Tensor g = randn({2, 5, 3}, TensorOptions(DType::f64));
  matmul(a, b).backward(g);
  Tensor gb_want = sum(matmul(a.detach().transpose(1, 2), g), {0}, true);
  Tensor ga_want = matmul(g, b.detach().transpose(1, 2).expand({2, 3, 4}));
  EXPECT_TRUE(compare(b.grad(), gb_want, 1e-12, 1e-12).empty());
  EXPECT_TRUE(compare(a.grad(), ga_want, 1e-12, 1e-12).empty());
}

TEST(Linalg, RejectsBadInputs) {
  EXPECT_THROW(matmul(randn({3, 4}), randn({5, 6})), Error);
  EXPECT_THROW(matmul(randn({2, 3, 4}), randn({3, 4, 5})), Error);  // batch 2 vs 3
  EXPECT_THROW(matmul(randn({3, 4}), randn({4, 5}, TensorOptions(DType::f64))), Error);
  EXPECT_THROW(matmul(scalar_tensor(1.0), randn({3})), Error);
  EXPECT_THROW(bmm(randn({2, 3, 4}), randn({3, 4, 5})), Error);
  EXPECT_THROW(bmm(randn({3, 4}), randn({4, 5})), Error);
  EXPECT_THROW(linear(randn({2, 5}), randn({4, 6})), Error);
  EXPECT_THROW(linear(randn({2, 5}), randn({4, 5}), randn({3})), Error);
  try {
    matmul(randn({3, 4}), randn({5, 6}));
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("matmul"), std::string::npos) << m;
    EXPECT_NE(m.find("[3, 4]"), std::string::npos) << m;
    EXPECT_NE(m.find("[5, 6]"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace sadanet::test
