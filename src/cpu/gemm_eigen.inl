// The Eigen GEMM body, included textually by gemm_cpu.cpp (portable flags) and gemm_avx2.cpp
// (-mavx2 -mfma). The includer first does `#define Eigen <unique name>` so that the Eigen
// templates of the two builds get different mangled names: otherwise the linker would merge the
// AVX2 and portable instantiations (same names, different code) and keep an arbitrary one.
// Everything here has internal linkage for the same reason.
#include <Eigen/Core>
#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "cpu/gemm_batch_split.h"
#include "kernels/kernels.h"

namespace {

// Less work than this in the whole batch stays on one thread (a team wake-up costs more). When
// threads take whole products: gemm_batch_split.h; otherwise Eigen splits each product.
constexpr double kMinParallelFlops = 1.0e6;

template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ConstMap = Eigen::Map<const RowMat<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <class T>
using MutMap = Eigen::Map<RowMat<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

// A stored rows x cols row-major matrix; the row stride only matters when rows > 1.
inline Eigen::OuterStride<> row_stride(int64_t ld, int64_t rows, int64_t cols) {
  return Eigen::OuterStride<>(rows > 1 ? ld : std::max<int64_t>(cols, 1));
}

template <class T>
void gemm_one(const sadanet::GemmArgs& g, const T* a, const T* b, T* c) {
  MutMap<T> C(c, g.m, g.n, row_stride(g.ldc, g.m, g.n));
  const T alpha = static_cast<T>(g.alpha), beta = static_cast<T>(g.beta);
  if (beta == T(0)) C.setZero();  // never read C: it may be uninitialised
  else if (beta != T(1)) C *= beta;
  if (g.k == 0 || alpha == T(0)) return;
  const int64_t ar = g.trans_a ? g.k : g.m, ac = g.trans_a ? g.m : g.k;
  const int64_t br = g.trans_b ? g.n : g.k, bc = g.trans_b ? g.k : g.n;
  ConstMap<T> A(a, ar, ac, row_stride(g.lda, ar, ac));
  ConstMap<T> B(b, br, bc, row_stride(g.ldb, br, bc));
  // Eigen folds the transposes and alpha into its packing: no copies are made here.
  if (!g.trans_a && !g.trans_b) C.noalias() += alpha * A * B;
  else if (g.trans_a && !g.trans_b) C.noalias() += alpha * A.transpose() * B;
  else if (!g.trans_a && g.trans_b) C.noalias() += alpha * A * B.transpose();
  else C.noalias() += alpha * A.transpose() * B.transpose();
}

template <class T>
void gemm_batched(const sadanet::GemmArgs& g, const T* a, const T* b, T* c) {
  if (g.batch <= 0 || g.m <= 0 || g.n <= 0) return;
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (split_batch_across_threads(g, threads, kMinParallelFlops)) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < g.batch; ++i)
      gemm_one<T>(g, a + i * g.stride_a, b + i * g.stride_b, c + i * g.stride_c);
  } else {
    // One product at a time; Eigen spreads each large one across the OpenMP threads itself
    // (and stays single-threaded when called from inside a parallel region).
    for (int64_t i = 0; i < g.batch; ++i)
      gemm_one<T>(g, a + i * g.stride_a, b + i * g.stride_b, c + i * g.stride_c);
  }
}

}  // namespace
