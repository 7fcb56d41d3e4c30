// The CPU GEMM (both builds: AVX2+FMA and portable) against a naive triple loop in double, over
// transposes, alpha/beta, padded row strides, broadcast batches (stride 0) and degenerate sizes.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "cpu/gemm_cpu.h"
#include "op_table.h"
#include "sadanet/runtime.h"

namespace sadanet::test {
namespace {

struct Case {
  int64_t batch, m, n, k;
  bool ta, tb;
  int64_t pad;  // extra row-stride elements on every matrix
  double alpha, beta;
  bool bcast_a, bcast_b;  // batch stride 0
};

template <class T> using Impl = void (*)(const GemmArgs&, const T*, const T*, T*);

template <class T> void check(const Case& c, Impl<T> impl, std::mt19937_64& rng, const char* which) {
  std::normal_distribution<double> nd;
  const int64_t ar = c.ta ? c.k : c.m, ac = c.ta ? c.m : c.k, br = c.tb ? c.n : c.k, bc = c.tb ? c.k : c.n;
  GemmArgs g;
  g.batch = c.batch; g.m = c.m; g.n = c.n; g.k = c.k; g.trans_a = c.ta; g.trans_b = c.tb;
  g.lda = ac + c.pad; g.ldb = bc + c.pad; g.ldc = c.n + c.pad;
  g.stride_a = c.bcast_a ? 0 : ar * g.lda;
  g.stride_b = c.bcast_b ? 0 : br * g.ldb;
  g.stride_c = c.m * g.ldc;
  g.alpha = c.alpha; g.beta = c.beta;
  std::vector<T> a((c.bcast_a ? 1 : c.batch) * ar * g.lda), b((c.bcast_b ? 1 : c.batch) * br * g.ldb);
  std::vector<T> cc(c.batch * g.stride_c);
  for (auto& v : a) v = static_cast<T>(nd(rng));
  for (auto& v : b) v = static_cast<T>(nd(rng));
  // beta == 0 must not read C: fill it with NaN then.
  for (auto& v : cc) v = c.beta == 0 ? std::numeric_limits<T>::quiet_NaN() : static_cast<T>(nd(rng));
  const std::vector<T> c0 = cc;
  impl(g, a.data(), b.data(), cc.data());

  const double tol = std::is_same_v<T, float> ? 2e-5 * std::sqrt(static_cast<double>(c.k) + 1) : 1e-12 * (c.k + 1);
  for (int64_t bi = 0; bi < c.batch; ++bi)
    for (int64_t i = 0; i < c.m; ++i)
      for (int64_t j = 0; j < c.n; ++j) {
        double s = 0;
        for (int64_t p = 0; p < c.k; ++p) {
          const double av = a[bi * g.stride_a + (c.ta ? p * g.lda + i : i * g.lda + p)];
          const double bv = b[bi * g.stride_b + (c.tb ? j * g.ldb + p : p * g.ldb + j)];
          s += av * bv;
        }
        const int64_t ci = bi * g.stride_c + i * g.ldc + j;
        const double want = c.alpha * s + (c.beta == 0 ? 0.0 : c.beta * static_cast<double>(c0[ci]));
        ASSERT_NEAR(cc[ci], want, tol * (1 + std::abs(want)))
            << which << " batch " << c.batch << " m " << c.m << " n " << c.n << " k " << c.k << " ta " << c.ta
            << " tb " << c.tb << " at [" << bi << "," << i << "," << j << "]";
      }
  // The padding between rows of C is never written.
  for (int64_t bi = 0; bi < c.batch; ++bi)
    for (int64_t i = 0; i < c.m; ++i)
      for (int64_t j = c.n; j < g.ldc; ++j) {
        const int64_t ci = bi * g.stride_c + i * g.ldc + j;
        ASSERT_TRUE((std::isnan(cc[ci]) && std::isnan(c0[ci])) || cc[ci] == c0[ci]) << which << ": padding written";
      }
}

std::vector<Case> cases() {
  std::vector<Case> cs;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      cs.push_back({1, 7, 5, 3, ta, tb, 0, 1.0, 0.0, false, false});
      cs.push_back({1, 33, 17, 70, ta, tb, 3, 0.5, 2.0, false, false});
      cs.push_back({3, 9, 11, 13, ta, tb, 1, -1.0, 1.0, false, true});
      cs.push_back({4, 6, 10, 8, ta, tb, 0, 1.0, 0.5, true, false});
      cs.push_back({1, 1, 19, 23, ta, tb, 2, 1.0, 0.0, false, false});  // vector x matrix
      cs.push_back({1, 21, 1, 23, ta, tb, 2, 1.0, 0.0, false, false});  // matrix x vector
    }
  cs.push_back({1, 150, 130, 120, false, false, 0, 1.0, 0.0, false, false});  // threaded inside GEMM
  cs.push_back({16, 20, 24, 28, false, true, 0, 1.0, 0.0, false, false});     // threaded across the batch
  cs.push_back({2, 4, 5, 0, false, false, 0, 1.0, 0.5, false, false});        // k = 0: C = beta C
  cs.push_back({2, 4, 5, 6, false, false, 0, 0.0, 0.0, false, false});        // alpha = 0: C = 0
  return cs;
}

TEST(GemmCpu, PortableBuildMatchesNaive) {
  std::mt19937_64 rng(run_seed());
  for (const auto& c : cases()) {
    check<float>(c, &cpu::gemm_impl::generic_f32, rng, "generic f32");
    check<double>(c, &cpu::gemm_impl::generic_f64, rng, "generic f64");
  }
}

TEST(GemmCpu, Avx2BuildMatchesNaive) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) GTEST_SKIP() << "CPU lacks AVX2/FMA";
  std::mt19937_64 rng(run_seed() + 1);
  for (const auto& c : cases()) {
    check<float>(c, &cpu::gemm_impl::sgemm_avx2, rng, "hand-written avx2 f32");
    check<float>(c, &cpu::gemm_impl::eigen_avx2_f32, rng, "eigen avx2 f32");
    check<double>(c, &cpu::gemm_impl::avx2_f64, rng, "avx2 f64");
  }
}

// The hand-written kernel's blocking: products that cross its panel edges (KC = 256 deep, MC = 168
// rows, NC = 4080 columns), ragged micro-tiles, every transpose, threads splitting M or N.
TEST(GemmCpu, HandWrittenAvx2CrossesEveryBlockEdge) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) GTEST_SKIP() << "CPU lacks AVX2/FMA";
  std::mt19937_64 rng(run_seed() + 2);
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      check<float>({1, 13, 37, 600, ta, tb, 1, 1.0, 0.0, false, false}, &cpu::gemm_impl::sgemm_avx2, rng, "k > 2 KC");
      check<float>({1, 175, 20, 40, ta, tb, 0, -0.5, 1.5, false, false}, &cpu::gemm_impl::sgemm_avx2, rng, "m > MC");
      check<float>({2, 5, 4099, 9, ta, tb, 2, 2.0, 0.5, false, true}, &cpu::gemm_impl::sgemm_avx2, rng, "n > NC");
      check<float>({1, 200, 64, 300, ta, tb, 0, 1.0, 1.0, false, false}, &cpu::gemm_impl::sgemm_avx2, rng, "split M");
    }
}

// Every element of C is summed in one order whatever the thread count: results are bit-identical.
TEST(GemmCpu, HandWrittenAvx2DoesNotDependOnTheThreadCount) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) GTEST_SKIP() << "CPU lacks AVX2/FMA";
  std::mt19937_64 rng(run_seed() + 3);
  std::normal_distribution<float> nd;
  for (auto [m, n, k] : {std::array<int64_t, 3>{150, 70, 520}, {40, 300, 270}}) {
    std::vector<float> a(m * k), b(k * n), c1(m * n), c2(m * n);
    for (auto& v : a) v = nd(rng);
    for (auto& v : b) v = nd(rng);
    GemmArgs g;
    g.m = m; g.n = n; g.k = k; g.lda = k; g.ldb = n; g.ldc = n;
    const int saved = num_threads();
    set_num_threads(1);
    cpu::gemm_impl::sgemm_avx2(g, a.data(), b.data(), c1.data());
    set_num_threads(std::max(saved, 3));
    cpu::gemm_impl::sgemm_avx2(g, a.data(), b.data(), c2.data());
    set_num_threads(saved);
    EXPECT_EQ(0, std::memcmp(c1.data(), c2.data(), c1.size() * sizeof(float))) << m << "x" << n << "x" << k;
  }
}

TEST(GemmCpu, DispatchPicksAvx2WhereSupported) {
  __builtin_cpu_init();
  const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const char* env = std::getenv("SADANET_GEMM");
  if (env && std::string(env) == "generic") EXPECT_FALSE(cpu::gemm_uses_avx2());
  else EXPECT_EQ(cpu::gemm_uses_avx2(), has);
}

}  // namespace
}  // namespace sadanet::test
