// Hand-written AVX2+FMA single-precision GEMM (this file alone is compiled with -mavx2 -mfma, see
// CMakeLists.txt; only called after gemm_cpu.cpp has checked that the CPU has both).
//
// Why not Eigen: on the 2-core EPYC, Eigen's sgemm reached 44% of the measured FMA peak at 1024^3
// and its threading busy-waits between the two threads; this kernel is the usual BLIS scheme
// (Goto's algorithm): B packed in KC x NC panels of 16-wide slivers, A in MC x KC blocks of 6-high
// slivers, and a 6x16 register-blocked micro-kernel (12 accumulators, 2 B vectors, 1 broadcast)
// that streams both packed slivers. Numbers and the comparison with Eigen: bench/README.md.
//
// Threads split one product's N (or M, when taller than wide) into equal slivers; each thread
// runs the whole blocked algorithm on its part with its own buffers: no barriers, and since every
// element of C is summed in the same order whatever the split, results do not depend on the
// thread count.
//
// Like gemm_avx2.cpp, nothing with external linkage is emitted here except the entry points:
// an AVX2-compiled copy of a shared inline function could be the one the linker keeps (hence no
// std::vector/std::min here).
#include <immintrin.h>
#include <omp.h>

#include <cstdint>
#include <cstdlib>
#include <new>

#include "cpu/gemm_batch_split.h"
#include "cpu/gemm_cpu.h"

#if !defined(__AVX2__) || !defined(__FMA__)
#error "sgemm_avx2.cpp must be compiled with -mavx2 -mfma"
#endif

namespace {

constexpr int64_t MR = 6, NR = 16;  // micro-tile: 6 rows x 2 vectors of 8
constexpr int64_t KC = 256;         // depth of a packed panel: a B sliver (16 KiB) stays in L1
constexpr int64_t MC = 168;         // rows of a packed A block (168 KiB): L2
constexpr int64_t NC = 4080;        // columns of a packed B panel (4 MiB): L3
// Less work than this stays on one thread (waking the team costs more).
constexpr double kMinThreadedFlops = 2.0e6;

inline int64_t lo(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t round_up(int64_t a, int64_t m) { return (a + m - 1) / m * m; }

// A thread's packing buffer, kept between calls; 64-byte aligned.
struct Buffer {
  float* p = nullptr;
  int64_t cap = 0;
  ~Buffer() { std::free(p); }
  float* get(int64_t n) {
    if (n > cap) {
      std::free(p);
      p = static_cast<float*>(std::aligned_alloc(64, static_cast<size_t>(round_up(n * 4, 64))));
      cap = p ? n : 0;
    }
    return p;
  }
};
thread_local Buffer tls_a, tls_b;

// op(A)(i, p) = a[i * rs + p * cs], rows [0, mc), depth [0, kc) -> slivers of MR rows, each
// stored depth-major (MR values per depth step), zero-padded past mc.
void pack_a(const float* a, int64_t rs, int64_t cs, int64_t mc, int64_t kc, float* ap) {
  for (int64_t i0 = 0; i0 < mc; i0 += MR, ap += MR * kc) {
    const int64_t mr = lo(MR, mc - i0);
    const float* src = a + i0 * rs;
    if (mr == MR && cs == 1) {
      const float *r0 = src, *r1 = src + rs, *r2 = src + 2 * rs, *r3 = src + 3 * rs, *r4 = src + 4 * rs,
                  *r5 = src + 5 * rs;
      for (int64_t p = 0; p < kc; ++p) {
        float* d = ap + p * MR;
        d[0] = r0[p]; d[1] = r1[p]; d[2] = r2[p]; d[3] = r3[p]; d[4] = r4[p]; d[5] = r5[p];
      }
    } else if (mr == MR && rs == 1) {  // transposed A: a depth step's 6 values are contiguous
      for (int64_t p = 0; p < kc; ++p) {
        const float* s = src + p * cs;
        float* d = ap + p * MR;
        d[0] = s[0]; d[1] = s[1]; d[2] = s[2]; d[3] = s[3]; d[4] = s[4]; d[5] = s[5];
      }
    } else {
      for (int64_t p = 0; p < kc; ++p) {
        float* d = ap + p * MR;
        for (int64_t r = 0; r < MR; ++r) d[r] = r < mr ? src[r * rs + p * cs] : 0.0f;
      }
    }
  }
}

// op(B)(p, j) = b[p * rs + j * cs], depth [0, kc), columns [0, nc) -> slivers of NR columns,
// each depth-major (NR values per depth step), zero-padded past nc.
void pack_b(const float* b, int64_t rs, int64_t cs, int64_t kc, int64_t nc, float* bp) {
  for (int64_t j0 = 0; j0 < nc; j0 += NR, bp += NR * kc) {
    const int64_t nr = lo(NR, nc - j0);
    if (nr == NR && cs == 1) {
      const float* s = b + j0;
      for (int64_t p = 0; p < kc; ++p) {
        _mm256_store_ps(bp + p * NR, _mm256_loadu_ps(s + p * rs));
        _mm256_store_ps(bp + p * NR + 8, _mm256_loadu_ps(s + p * rs + 8));
      }
    } else if (rs == 1) {  // transposed B: a column's depth steps are contiguous
      for (int64_t c = 0; c < NR; ++c) {
        const float* s = b + (j0 + c) * cs;
        if (c < nr)
          for (int64_t p = 0; p < kc; ++p) bp[p * NR + c] = s[p];
        else
          for (int64_t p = 0; p < kc; ++p) bp[p * NR + c] = 0.0f;
      }
    } else {
      for (int64_t p = 0; p < kc; ++p)
        for (int64_t c = 0; c < NR; ++c) bp[p * NR + c] = c < nr ? b[p * rs + (j0 + c) * cs] : 0.0f;
    }
  }
}

// How a micro-tile lands in C: C = alpha * acc + beta * C, where beta_zero means "do not read C".
struct Epilogue {
  float alpha, beta;
  bool beta_zero;
};

// The 6x16 micro-kernel: acc = Ap (6 x kc) * Bp (kc x 16) from packed slivers, then the epilogue
// on the mr x nr corner of the tile at c.
void micro_6x16(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, int64_t mr, int64_t nr,
                Epilogue e) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int64_t p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8);
    __m256 a = _mm256_broadcast_ss(ap + 0);
    c00 = _mm256_fmadd_ps(a, b0, c00); c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(ap + 1);
    c10 = _mm256_fmadd_ps(a, b0, c10); c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(ap + 2);
    c20 = _mm256_fmadd_ps(a, b0, c20); c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(ap + 3);
    c30 = _mm256_fmadd_ps(a, b0, c30); c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(ap + 4);
    c40 = _mm256_fmadd_ps(a, b0, c40); c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(ap + 5);
    c50 = _mm256_fmadd_ps(a, b0, c50); c51 = _mm256_fmadd_ps(a, b1, c51);
    ap += MR;
    bp += NR;
  }
  const __m256 va = _mm256_set1_ps(e.alpha), vb = _mm256_set1_ps(e.beta);
  alignas(32) float t[MR * NR];
  const __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  if (mr == MR && nr == NR) {
    for (int64_t r = 0; r < MR; ++r) {
      float* cr = c + r * ldc;
      __m256 v0 = _mm256_mul_ps(acc[r][0], va), v1 = _mm256_mul_ps(acc[r][1], va);
      if (!e.beta_zero) {
        v0 = _mm256_fmadd_ps(_mm256_loadu_ps(cr), vb, v0);
        v1 = _mm256_fmadd_ps(_mm256_loadu_ps(cr + 8), vb, v1);
      }
      _mm256_storeu_ps(cr, v0);
      _mm256_storeu_ps(cr + 8, v1);
    }
    return;
  }
  for (int64_t r = 0; r < MR; ++r) {
    _mm256_store_ps(t + r * NR, acc[r][0]);
    _mm256_store_ps(t + r * NR + 8, acc[r][1]);
  }
  for (int64_t r = 0; r < mr; ++r)
    for (int64_t j = 0; j < nr; ++j) {
      float& dst = c[r * ldc + j];
      const float v = e.alpha * t[r * NR + j];
      dst = e.beta_zero ? v : e.beta * dst + v;
    }
}

// One operand as strides: element (i, p) at base[i * rs + p * cs].
struct Operand {
  const float* base;
  int64_t rs, cs;
};

// C (m x n, row stride ldc) = alpha * A B + beta * C on the calling thread. Returns false when a
// packing buffer could not be allocated (C then partly written).
bool gemm_blocked(int64_t m, int64_t n, int64_t k, Operand A, Operand B, float* c, int64_t ldc, float alpha,
                  float beta) {
  const int64_t kc_max = lo(KC, k), nc_max = lo(NC, round_up(n, NR)), mc_max = lo(MC, round_up(m, MR));
  float* bbuf = tls_b.get(kc_max * round_up(nc_max, NR));
  float* abuf = tls_a.get(kc_max * round_up(mc_max, MR));
  if (!bbuf || !abuf) return false;
  for (int64_t jc = 0; jc < n; jc += NC) {
    const int64_t nc = lo(NC, n - jc);
    for (int64_t pc = 0; pc < k; pc += KC) {
      const int64_t kc = lo(KC, k - pc);
      pack_b(B.base + pc * B.rs + jc * B.cs, B.rs, B.cs, kc, nc, bbuf);
      const Epilogue e{alpha, pc == 0 ? beta : 1.0f, pc == 0 && beta == 0.0f};
      for (int64_t ic = 0; ic < m; ic += MC) {
        const int64_t mc = lo(MC, m - ic);
        pack_a(A.base + ic * A.rs + pc * A.cs, A.rs, A.cs, mc, kc, abuf);
        for (int64_t jr = 0; jr < nc; jr += NR)
          for (int64_t ir = 0; ir < mc; ir += MR)
            micro_6x16(kc, abuf + ir * kc, bbuf + jr * kc, c + (ic + ir) * ldc + jc + jr, ldc, lo(MR, mc - ir),
                       lo(NR, nc - jr), e);
      }
    }
  }
  return true;
}

// C = beta * C (beta 0: zeros, C not read).
void scale_c(int64_t m, int64_t n, float* c, int64_t ldc, float beta) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
}

// One product on up to `threads` threads; false when out of memory.
bool gemm_one(const sadanet::GemmArgs& g, const float* a, const float* b, float* c, int threads) {
  const int64_t m = g.m, n = g.n, k = g.k;
  const float alpha = static_cast<float>(g.alpha), beta = static_cast<float>(g.beta);
  if (m <= 0 || n <= 0) return true;
  if (k <= 0 || alpha == 0.0f) {
    scale_c(m, n, c, g.ldc, beta);
    return true;
  }
  const Operand A{a, g.trans_a ? 1 : g.lda, g.trans_a ? g.lda : 1};
  const Operand B{b, g.trans_b ? 1 : g.ldb, g.trans_b ? g.ldb : 1};
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  // Split the longer side, in whole slivers.
  const bool split_n = n >= m;
  const int64_t unit = split_n ? NR : MR, extent = split_n ? n : m;
  int parts = flops < kMinThreadedFlops ? 1 : threads;
  const int64_t chunk = round_up((extent + parts - 1) / parts, unit);
  parts = static_cast<int>((extent + chunk - 1) / chunk);
  if (parts <= 1) return gemm_blocked(m, n, k, A, B, c, g.ldc, alpha, beta);
  int failed = 0;
#pragma omp parallel num_threads(parts)
  {
    const int64_t t = omp_get_thread_num();
    const int64_t s0 = t * chunk, s1 = lo(extent, s0 + chunk);
    if (s0 < s1) {
      bool r;
      if (split_n)
        r = gemm_blocked(m, s1 - s0, k, A, Operand{B.base + s0 * B.cs, B.rs, B.cs}, c + s0, g.ldc, alpha, beta);
      else
        r = gemm_blocked(s1 - s0, n, k, Operand{A.base + s0 * A.rs, A.rs, A.cs}, B, c + s0 * g.ldc, g.ldc, alpha,
                         beta);
      if (!r) {
#pragma omp atomic write
        failed = 1;
      }
    }
  }
  return !failed;
}

}  // namespace

namespace sadanet::cpu::gemm_impl {

void sgemm_avx2(const GemmArgs& g, const float* a, const float* b, float* c) {
  if (g.batch <= 0 || g.m <= 0 || g.n <= 0) return;
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  int failed = 0;
  if (split_batch_across_threads(g, threads, kMinThreadedFlops)) {
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t i = 0; i < g.batch; ++i)
      if (!gemm_one(g, a + i * g.stride_a, b + i * g.stride_b, c + i * g.stride_c, 1)) {
#pragma omp atomic write
        failed = 1;
      }
  } else {
    for (int64_t i = 0; i < g.batch && !failed; ++i)
      failed = !gemm_one(g, a + i * g.stride_a, b + i * g.stride_b, c + i * g.stride_c, threads);
  }
  if (failed) throw std::bad_alloc();
}

}  // namespace sadanet::cpu::gemm_impl
