// Tests of the simulation build's fake cuBLAS and fake cuDNN (cuda/sim/include/cublas_v2.h,
// cudnn.h): each call against an independent naive reference on random inputs, each documented
// argument check, and the behaviours the fakes model on purpose (workspace reset by
// cublasSetStream, TF32 rounding, the algorithm list, pointer alignment). Device memory under the
// simulation is host memory, so the tests fill and read it directly.
#include <cublas_v2.h>
#include <cudnn.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace {

// ---- helpers ---------------------------------------------------------------------------------------------------

// A cudaMalloc'ed array of n elements (fresh allocations may hold NaN: the simulation poisons them).
template <class T>
struct DeviceArray {
  T* p = nullptr;
  size_t n = 0;
  explicit DeviceArray(size_t count) : n(count) {
    void* v = nullptr;
    EXPECT_EQ(cudaMalloc(&v, std::max<size_t>(count, 1) * sizeof(T)), cudaSuccess);
    p = static_cast<T*>(v);
  }
  ~DeviceArray() { cudaFree(p); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  T& operator[](size_t i) { return p[i]; }
  std::vector<T> copy() const { return std::vector<T>(p, p + n); }
  void random(std::mt19937& rng) {
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<T>(u(rng));
  }
  void fill(T v) { std::fill(p, p + n, v); }
};

// Sets an environment variable for the scope of the object.
struct EnvGuard {
  std::string name;
  std::string old;
  bool had;
  EnvGuard(const char* n, const char* v) : name(n) {
    const char* o = std::getenv(n);
    had = o != nullptr;
    if (had) old = o;
    setenv(n, v, 1);
  }
  ~EnvGuard() {
    if (had)
      setenv(name.c_str(), old.c_str(), 1);
    else
      unsetenv(name.c_str());
  }
};

// TF32 rounding computed another way than the fakes do it: keep 11 significant bits of the value
// (1 implicit + 10 explicit), ties to even (nearbyint in the default rounding mode). Normal numbers only.
float tf32_reference(float v) {
  if (!std::isfinite(v) || v == 0.0f) return v;
  int e = 0;
  const double m = std::frexp(static_cast<double>(v), &e);
  return static_cast<float>(std::ldexp(std::nearbyint(std::ldexp(m, 11)), e - 11));
}

// |got - want| within one unit in the last place of T plus what double accumulation can differ by.
template <class T>
void expect_close(T got, long double want, long double sum_abs, const std::string& where) {
  const long double ulp = std::numeric_limits<T>::epsilon() * std::fabs(want) + std::numeric_limits<T>::denorm_min();
  const long double tol = ulp + 1e-13L * sum_abs;
  EXPECT_LE(std::fabs(static_cast<long double>(got) - want), tol)
      << where << ": got " << got << ", want " << static_cast<double>(want);
}

// ---- cuBLAS: handle and helpers -----------------------------------------------------------------------------------

struct CublasHandle {
  cublasHandle_t h = nullptr;
  CublasHandle() { EXPECT_EQ(cublasCreate(&h), CUBLAS_STATUS_SUCCESS); }
  ~CublasHandle() { cublasDestroy(h); }
};

// The stored (column-major) element of op(M) at (row, col), as BLAS defines op.
template <class T>
T op_elem(const T* m, long long ld, cublasOperation_t op, long long row, long long col) {
  return op == CUBLAS_OP_N ? m[row + col * ld] : m[col + row * ld];
}

// Column-major reference GEMM with long double accumulation; also returns per-element sum |terms|.
template <class T>
void reference_gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, double alpha, const T* a, int lda,
                    long long sa, const T* b, int ldb, long long sb, double beta, const std::vector<T>& c_before,
                    int ldc, long long sc, int batch, bool tf32, std::vector<long double>* want,
                    std::vector<long double>* sum_abs) {
  want->assign(c_before.size(), 0.0L);
  sum_abs->assign(c_before.size(), 0.0L);
  auto in = [&](T v) -> long double {
    if constexpr (std::is_same_v<T, float>) return tf32 ? tf32_reference(v) : v;
    return v;
  };
  for (int q = 0; q < batch; ++q)
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        long double acc = 0, mag = 0;
        for (int l = 0; l < k; ++l) {
          const long double t = in(op_elem(a + q * sa, lda, ta, i, l)) * in(op_elem(b + q * sb, ldb, tb, l, j));
          acc += t, mag += std::fabs(t);
        }
        const size_t ci = static_cast<size_t>(q * sc + i + static_cast<long long>(j) * ldc);
        (*want)[ci] = alpha * acc + (beta == 0 ? 0.0L : beta * static_cast<long double>(c_before[ci]));
        (*sum_abs)[ci] = std::fabs(alpha) * mag +
                         std::fabs(beta) * std::fabs(static_cast<long double>(beta == 0 ? 0 : c_before[ci]));
      }
}

const cublasOperation_t kOps[] = {CUBLAS_OP_N, CUBLAS_OP_T, CUBLAS_OP_C};

// One strided-batched GEMM through the Ex entry point (f32 or f64 by T) against the reference.
template <class T>
void check_gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, int pad_ld,
                long long extra_stride_a, long long extra_stride_b, int batch, double alpha, double beta,
                cublasComputeType_t compute, bool expect_tf32, std::mt19937& rng, bool broadcast_a = false,
                bool broadcast_b = false) {
  const int a_rows = ta == CUBLAS_OP_N ? m : k, a_cols = ta == CUBLAS_OP_N ? k : m;
  const int b_rows = tb == CUBLAS_OP_N ? k : n, b_cols = tb == CUBLAS_OP_N ? n : k;
  const int lda = std::max(1, a_rows) + pad_ld, ldb = std::max(1, b_rows) + pad_ld, ldc = std::max(1, m) + pad_ld;
  const long long sa = broadcast_a ? 0 : static_cast<long long>(lda) * a_cols + extra_stride_a;
  const long long sb = broadcast_b ? 0 : static_cast<long long>(ldb) * b_cols + extra_stride_b;
  const long long sc = static_cast<long long>(ldc) * n + 3;
  DeviceArray<T> a(static_cast<size_t>(sa * (batch - 1) + static_cast<long long>(lda) * a_cols));
  DeviceArray<T> b(static_cast<size_t>(sb * (batch - 1) + static_cast<long long>(ldb) * b_cols));
  DeviceArray<T> c(static_cast<size_t>(sc * (batch - 1) + static_cast<long long>(ldc) * n));
  a.random(rng), b.random(rng), c.random(rng);
  if (beta == 0) c.fill(std::numeric_limits<T>::quiet_NaN());  // must not leak
  const std::vector<T> before = c.copy();
  std::vector<long double> want, mag;
  reference_gemm<T>(ta, tb, m, n, k, alpha, a.p, lda, sa, b.p, ldb, sb, beta, before, ldc, sc, batch, expect_tf32,
                    &want, &mag);
  const cudaDataType type = std::is_same_v<T, float> ? CUDA_R_32F : CUDA_R_64F;
  const T al = static_cast<T>(alpha), be = static_cast<T>(beta);
  ASSERT_EQ(cublasGemmStridedBatchedEx(h, ta, tb, m, n, k, &al, a.p, type, lda, sa, b.p, type, ldb, sb, &be, c.p, type,
                                       ldc, sc, batch, compute, CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(cublasSimLastGemmUsedTf32(h), expect_tf32);
  for (int q = 0; q < batch; ++q)
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < m; ++i) {
        const size_t ci = static_cast<size_t>(q * sc + i + static_cast<long long>(j) * ldc);
        expect_close<T>(c[ci], want[ci], mag[ci],
                        "ta " + std::to_string(ta) + " tb " + std::to_string(tb) + " batch " + std::to_string(q) +
                            " (" + std::to_string(i) + "," + std::to_string(j) + ")");
      }
  // Elements between the matrices (padding rows, stride gaps) are untouched.
  for (size_t idx = 0; idx < c.n; ++idx) {
    const long long q = static_cast<long long>(idx) / sc, rem = static_cast<long long>(idx) % sc;
    const bool inside = q < batch && rem / ldc < n && rem % ldc < m;
    if (!inside) {
      EXPECT_EQ(std::memcmp(&c.p[idx], &before[idx], sizeof(T)), 0) << "element " << idx << " changed";
    }
  }
}

// ---- cuBLAS: helpers and handle ------------------------------------------------------------------------------------

TEST(CudaSimFakeCublas, HandleLifecycle) {
  EXPECT_EQ(cublasCreate(nullptr), CUBLAS_STATUS_INVALID_VALUE);
  cublasHandle_t h = nullptr;
  ASSERT_EQ(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(cublasDestroy(h), CUBLAS_STATUS_NOT_INITIALIZED);  // destroyed twice
  EXPECT_EQ(cublasDestroy(nullptr), CUBLAS_STATUS_NOT_INITIALIZED);
  EXPECT_EQ(cublasSetStream(h, nullptr), CUBLAS_STATUS_NOT_INITIALIZED);  // use after destroy
}

TEST(CudaSimFakeCublas, StatusNamesAndStrings) {
  EXPECT_STREQ(cublasGetStatusName(CUBLAS_STATUS_SUCCESS), "CUBLAS_STATUS_SUCCESS");
  EXPECT_STREQ(cublasGetStatusName(CUBLAS_STATUS_INVALID_VALUE), "CUBLAS_STATUS_INVALID_VALUE");
  EXPECT_STREQ(cublasGetStatusName(CUBLAS_STATUS_NOT_SUPPORTED), "CUBLAS_STATUS_NOT_SUPPORTED");
  EXPECT_GT(std::strlen(cublasGetStatusString(CUBLAS_STATUS_NOT_INITIALIZED)), 0u);
  // The numeric values are cuBLAS's (a status printed under the simulation reads as on a GPU).
  EXPECT_EQ(CUBLAS_STATUS_NOT_INITIALIZED, 1);
  EXPECT_EQ(CUBLAS_STATUS_INVALID_VALUE, 7);
  EXPECT_EQ(CUBLAS_STATUS_NOT_SUPPORTED, 15);
  EXPECT_EQ(CUBLAS_COMPUTE_32F, 68);
  EXPECT_EQ(CUBLAS_COMPUTE_32F_FAST_TF32, 77);
  EXPECT_EQ(CUBLAS_COMPUTE_64F, 70);
  EXPECT_EQ(CUBLAS_GEMM_DEFAULT, -1);
  EXPECT_EQ(CUBLAS_GEMM_DEFAULT_TENSOR_OP, 99);
}

TEST(CudaSimFakeCublas, StreamAndMathModeRoundTrip) {
  CublasHandle h;
  cudaStream_t s = reinterpret_cast<cudaStream_t>(0x1234);
  ASSERT_EQ(cublasSetStream(h.h, s), CUBLAS_STATUS_SUCCESS);
  cudaStream_t got = nullptr;
  ASSERT_EQ(cublasGetStream(h.h, &got), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(got, s);
  EXPECT_EQ(cublasGetStream(h.h, nullptr), CUBLAS_STATUS_INVALID_VALUE);
  cublasMath_t mode = CUBLAS_PEDANTIC_MATH;
  ASSERT_EQ(cublasGetMathMode(h.h, &mode), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(mode, CUBLAS_DEFAULT_MATH);
  ASSERT_EQ(cublasSetMathMode(h.h, CUBLAS_TF32_TENSOR_OP_MATH), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasGetMathMode(h.h, &mode), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(mode, CUBLAS_TF32_TENSOR_OP_MATH);
  EXPECT_EQ(cublasSetMathMode(
                h.h, static_cast<cublasMath_t>(CUBLAS_DEFAULT_MATH | CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)),
            CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(cublasSetMathMode(h.h, static_cast<cublasMath_t>(7)), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(cublasGetMathMode(h.h, nullptr), CUBLAS_STATUS_INVALID_VALUE);
}

// ---- cuBLAS: workspace ---------------------------------------------------------------------------------------------

// One 2x2 GEMM, to see what the handle's next GEMM records.
void tiny_gemm(cublasHandle_t h) {
  DeviceArray<float> a(4), b(4), c(4);
  a.fill(1), b.fill(1);
  const float one = 1, zero = 0;
  ASSERT_EQ(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, a.p, 2, b.p, 2, &zero, c.p, 2),
            CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(c[3], 2.0f);
}

TEST(CudaSimFakeCublas, SetStreamResetsTheUserWorkspace) {
  CublasHandle h;
  DeviceArray<char> ws(1 << 20);
  EXPECT_FALSE(cublasSimUsesUserWorkspace(h.h));
  ASSERT_EQ(cublasSetWorkspace(h.h, ws.p, ws.n), CUBLAS_STATUS_SUCCESS);
  EXPECT_TRUE(cublasSimUsesUserWorkspace(h.h));
  tiny_gemm(h.h);
  EXPECT_TRUE(cublasSimLastGemmUsedUserWorkspace(h.h));
  // Documented: cublasSetStream "unconditionally resets the cuBLAS library workspace back to the
  // default workspace pool", so workspace-then-stream runs the next GEMM without it.
  ASSERT_EQ(cublasSetStream(h.h, nullptr), CUBLAS_STATUS_SUCCESS);
  EXPECT_FALSE(cublasSimUsesUserWorkspace(h.h));
  tiny_gemm(h.h);
  EXPECT_FALSE(cublasSimLastGemmUsedUserWorkspace(h.h));
  // Stream first, then workspace: the GEMM uses it.
  ASSERT_EQ(cublasSetWorkspace(h.h, ws.p, ws.n), CUBLAS_STATUS_SUCCESS);
  tiny_gemm(h.h);
  EXPECT_TRUE(cublasSimLastGemmUsedUserWorkspace(h.h));
  EXPECT_EQ(cublasSimGemmCalls(h.h), 3);
  // The process-wide record says the same about the last GEMM on any handle.
  const long long before = cublasSimGemmCallsAll();
  ASSERT_EQ(cublasSetStream(h.h, reinterpret_cast<cudaStream_t>(0x99)), CUBLAS_STATUS_SUCCESS);
  tiny_gemm(h.h);
  const CublasSimGemm last = cublasSimLastGemm();
  EXPECT_EQ(last.handle, h.h);
  EXPECT_EQ(last.stream, reinterpret_cast<cudaStream_t>(0x99));
  EXPECT_FALSE(last.used_user_workspace);
  EXPECT_FALSE(last.tf32);
  EXPECT_EQ(cublasSimGemmCallsAll(), before + 1);
}

TEST(CudaSimFakeCublas, SetWorkspaceNeedsAlignedDeviceMemory) {
  CublasHandle h;
  DeviceArray<char> ws(4096);
  EXPECT_EQ(cublasSetWorkspace(h.h, ws.p + 16, 1024), CUBLAS_STATUS_INVALID_VALUE);  // documented: 256-byte aligned
  alignas(256) static char host[1024];
  EXPECT_EQ(cublasSetWorkspace(h.h, host, sizeof host), CUBLAS_STATUS_INVALID_VALUE);  // not device memory
  EXPECT_EQ(cublasSetWorkspace(h.h, ws.p, 8192), CUBLAS_STATUS_INVALID_VALUE);         // larger than the allocation
  EXPECT_FALSE(cublasSimUsesUserWorkspace(h.h));
  EXPECT_EQ(cublasSetWorkspace(h.h, ws.p, 4096), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(cublasSetWorkspace(nullptr, ws.p, 4096), CUBLAS_STATUS_NOT_INITIALIZED);
}

TEST(CudaSimFakeCublas, GemmWithAFreedUserWorkspaceIsRefused) {
  CublasHandle h;
  void* ws = nullptr;
  ASSERT_EQ(cudaMalloc(&ws, 1 << 20), cudaSuccess);
  ASSERT_EQ(cublasSetWorkspace(h.h, ws, 1 << 20), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cudaFree(ws), cudaSuccess);  // the handle still holds it
  DeviceArray<float> a(4), b(4), c(4);
  a.fill(1), b.fill(1);
  const float one = 1, zero = 0;
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(cublasSgemm(h.h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, a.p, 2, b.p, 2, &zero, c.p, 2),
            CUBLAS_STATUS_INVALID_VALUE);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("no longer device memory"), std::string::npos) << err;
  ASSERT_EQ(cublasSetStream(h.h, nullptr), CUBLAS_STATUS_SUCCESS);  // back to the default pool: fine again
  tiny_gemm(h.h);
}

// ---- cuBLAS: GEMM semantics
// ------------------------------------------------------------------------------------------

TEST(CudaSimFakeCublasGemm, MatchesReferenceForEveryTransposeCombination) {
  CublasHandle h;
  std::mt19937 rng(1);
  for (cublasOperation_t ta : kOps)
    for (cublasOperation_t tb : kOps) {
      // Leading dimensions above the minimum, gaps between batches, beta != 0, in f32 and f64.
      check_gemm<float>(h.h, ta, tb, 5, 4, 7, 2, 5, 1, 3, 0.75, -0.5, CUBLAS_COMPUTE_32F, false, rng);
      check_gemm<double>(h.h, ta, tb, 5, 4, 7, 2, 5, 1, 3, -1.25, 2.0, CUBLAS_COMPUTE_64F, false, rng);
      check_gemm<float>(h.h, ta, tb, 3, 6, 2, 0, 0, 0, 1, 1.0, 1.0, CUBLAS_COMPUTE_32F_PEDANTIC, false, rng);
    }
}

TEST(CudaSimFakeCublasGemm, TypedEntryPointsMatchReference) {
  CublasHandle h;
  std::mt19937 rng(2);
  const int m = 4, n = 3, k = 5, batch = 2;
  DeviceArray<double> a(m * k * batch), b(k * n * batch), c(m * n * batch);
  a.random(rng), b.random(rng), c.random(rng);
  DeviceArray<float> af(m * k * batch), bf(k * n * batch), cf(m * n * batch);
  for (size_t i = 0; i < a.n; ++i) af[i] = static_cast<float>(a[i]);
  for (size_t i = 0; i < b.n; ++i) bf[i] = static_cast<float>(b[i]);
  for (size_t i = 0; i < c.n; ++i) cf[i] = static_cast<float>(c[i]);
  const std::vector<double> c0 = c.copy();
  const std::vector<float> cf0 = cf.copy();
  const double al = 1.5, be = 0.25;
  const float alf = 1.5f, bef = 0.25f;
  // A transposed (stored k x m), B not.
  ASSERT_EQ(cublasDgemmStridedBatched(h.h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &al, a.p, k, m * k, b.p, k, k * n, &be,
                                      c.p, m, m * n, batch),
            CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasSgemmStridedBatched(h.h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alf, af.p, k, m * k, bf.p, k, k * n,
                                      &bef, cf.p, m, m * n, batch),
            CUBLAS_STATUS_SUCCESS);
  std::vector<long double> want, mag, wantf, magf;
  reference_gemm<double>(CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, al, a.p, k, m * k, b.p, k, k * n, be, c0, m, m * n, batch,
                         false, &want, &mag);
  reference_gemm<float>(CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, alf, af.p, k, m * k, bf.p, k, k * n, bef, cf0, m, m * n,
                        batch, false, &wantf, &magf);
  for (size_t i = 0; i < c.n; ++i) expect_close<double>(c[i], want[i], mag[i], "Dgemm " + std::to_string(i));
  for (size_t i = 0; i < cf.n; ++i) expect_close<float>(cf[i], wantf[i], magf[i], "Sgemm " + std::to_string(i));
  // The unbatched forms are batch 0 of the same.
  DeviceArray<double> c1(m * n);
  c1.fill(std::numeric_limits<double>::quiet_NaN());
  const double zero = 0;
  ASSERT_EQ(cublasDgemm(h.h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &al, a.p, k, b.p, k, &zero, c1.p, m),
            CUBLAS_STATUS_SUCCESS);
  reference_gemm<double>(CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, al, a.p, k, 0, b.p, k, 0, 0.0, c1.copy(), m, 0, 1, false,
                         &want, &mag);
  for (size_t i = 0; i < c1.n; ++i)
    expect_close<double>(c1[i], want[i], mag[i], "Dgemm unbatched " + std::to_string(i));
  DeviceArray<float> c2(m * n);
  const float onef = 1.0f, zerof = 0.0f;
  ASSERT_EQ(cublasGemmEx(h.h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &onef, af.p, CUDA_R_32F, k, bf.p, CUDA_R_32F, k,
                         &zerof, c2.p, CUDA_R_32F, m, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT_TENSOR_OP),
            CUBLAS_STATUS_SUCCESS);
  reference_gemm<float>(CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, 1.0, af.p, k, 0, bf.p, k, 0, 0.0, c2.copy(), m, 0, 1, false,
                        &wantf, &magf);
  for (size_t i = 0; i < c2.n; ++i) expect_close<float>(c2[i], wantf[i], magf[i], "GemmEx " + std::to_string(i));
}

TEST(CudaSimFakeCublasGemm, StrideZeroBroadcastsAnOperand) {
  CublasHandle h;
  std::mt19937 rng(3);
  check_gemm<float>(h.h, CUBLAS_OP_N, CUBLAS_OP_T, 4, 3, 5, 1, 0, 0, 4, 1.0, 0.0, CUBLAS_COMPUTE_32F, false, rng, true,
                    false);
  check_gemm<double>(h.h, CUBLAS_OP_T, CUBLAS_OP_N, 4, 3, 5, 1, 0, 0, 4, 1.0, 0.5, CUBLAS_COMPUTE_64F, false, rng,
                     false, true);
}

TEST(CudaSimFakeCublasGemm, BetaZeroDoesNotReadC) {
  CublasHandle h;
  std::mt19937 rng(4);
  // check_gemm fills C with NaN when beta == 0 and expects finite products.
  check_gemm<float>(h.h, CUBLAS_OP_N, CUBLAS_OP_N, 6, 5, 4, 1, 0, 0, 2, 1.0, 0.0, CUBLAS_COMPUTE_32F, false, rng);
  check_gemm<double>(h.h, CUBLAS_OP_T, CUBLAS_OP_T, 6, 5, 4, 1, 0, 0, 2, -2.0, 0.0, CUBLAS_COMPUTE_64F, false, rng);
}

TEST(CudaSimFakeCublasGemm, KZeroScalesC) {
  CublasHandle h;
  DeviceArray<float> c(6);
  for (size_t i = 0; i < c.n; ++i) c[i] = static_cast<float>(i + 1);
  const float alpha = 3, beta = 0.5f;
  // k == 0: A and B are not touched (null is fine), C = beta * C.
  ASSERT_EQ(cublasGemmStridedBatchedEx(h.h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 3, 0, &alpha, nullptr, CUDA_R_32F, 2, 0,
                                       nullptr, CUDA_R_32F, 1, 0, &beta, c.p, CUDA_R_32F, 2, 6, 1, CUBLAS_COMPUTE_32F,
                                       CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_SUCCESS);
  for (size_t i = 0; i < c.n; ++i) EXPECT_EQ(c[i], 0.5f * static_cast<float>(i + 1));
  c.fill(std::numeric_limits<float>::quiet_NaN());
  const float zero = 0;
  ASSERT_EQ(cublasSgemm(h.h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 3, 0, &alpha, nullptr, 2, nullptr, 1, &zero, c.p, 2),
            CUBLAS_STATUS_SUCCESS);
  for (size_t i = 0; i < c.n; ++i) EXPECT_EQ(c[i], 0.0f);
}

TEST(CudaSimFakeCublasGemm, AlphaZeroDoesNotReadAOrB) {
  CublasHandle h;
  DeviceArray<double> a(4), b(4), c(4);
  a.fill(std::numeric_limits<double>::quiet_NaN()), b.fill(std::numeric_limits<double>::infinity());
  c.fill(2.0);
  const double zero = 0, beta = 1.5;
  ASSERT_EQ(cublasDgemm(h.h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &zero, a.p, 2, b.p, 2, &beta, c.p, 2),
            CUBLAS_STATUS_SUCCESS);
  for (size_t i = 0; i < c.n; ++i) EXPECT_EQ(c[i], 3.0);
}

TEST(CudaSimFakeCublasGemm, ZeroSizedCallsTouchNothing) {
  CublasHandle h;
  const float one = 1;
  // m, n or batchCount 0: a quick return after the argument checks; pointers are not looked at.
  EXPECT_EQ(cublasSgemm(h.h, CUBLAS_OP_N, CUBLAS_OP_N, 0, 3, 2, &one, nullptr, 1, nullptr, 2, &one, nullptr, 1),
            CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(cublasSgemm(h.h, CUBLAS_OP_N, CUBLAS_OP_N, 3, 0, 2, &one, nullptr, 3, nullptr, 2, &one, nullptr, 3),
            CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(cublasSgemmStridedBatched(h.h, CUBLAS_OP_N, CUBLAS_OP_N, 3, 3, 2, &one, nullptr, 3, 6, nullptr, 2, 6, &one,
                                      nullptr, 3, 9, 0),
            CUBLAS_STATUS_SUCCESS);
}

TEST(CudaSimFakeCublasGemm, Tf32RoundsInputsToNearestEven) {
  CublasHandle h;
  DeviceArray<float> a(4), b(1), c(4);
  // 1 + 2^-11 is half a TF32 ulp above 1 (tie: to even, 1); 1 + 3*2^-11 is 1.5 ulps (tie: to 1 + 2^-9);
  // 1 + 2^-11 + 2^-20 is above the tie (to 1 + 2^-10); -(1 + 2^-11) keeps its sign.
  a[0] = 1.0f + 0x1p-11f, a[1] = 1.0f + 3 * 0x1p-11f, a[2] = 1.0f + 0x1p-11f + 0x1p-20f, a[3] = -(1.0f + 0x1p-11f);
  b[0] = 1.0f;
  const float one = 1, zero = 0;
  ASSERT_EQ(cublasGemmEx(h.h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 1, 1, &one, a.p, CUDA_R_32F, 4, b.p, CUDA_R_32F, 1, &zero,
                         c.p, CUDA_R_32F, 4, CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(c[0], 1.0f);
  EXPECT_EQ(c[1], 1.0f + 0x1p-9f);
  EXPECT_EQ(c[2], 1.0f + 0x1p-10f);
  EXPECT_EQ(c[3], -1.0f);
  ASSERT_EQ(cublasGemmEx(h.h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 1, 1, &one, a.p, CUDA_R_32F, 4, b.p, CUDA_R_32F, 1, &zero,
                         c.p, CUDA_R_32F, 4, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_SUCCESS);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(c[i], a[i]);  // exact f32: nothing rounded
}

TEST(CudaSimFakeCublasGemm, Tf32MatchesReferenceAndDiffersFromExact) {
  CublasHandle h;
  std::mt19937 rng(5);
  for (cublasOperation_t ta : kOps)
    for (cublasOperation_t tb : kOps)
      check_gemm<float>(h.h, ta, tb, 7, 6, 9, 1, 2, 0, 2, 1.0, 0.5, CUBLAS_COMPUTE_32F_FAST_TF32, true, rng);
  // And the difference is visible: on random inputs TF32 and exact results differ.
  const int m = 8, n = 8, k = 32;
  DeviceArray<float> a(m * k), b(k * n), c1(m * n), c2(m * n);
  a.random(rng), b.random(rng);
  const float one = 1, zero = 0;
  ASSERT_EQ(cublasGemmEx(h.h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &one, a.p, CUDA_R_32F, m, b.p, CUDA_R_32F, k, &zero,
                         c1.p, CUDA_R_32F, m, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasGemmEx(h.h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &one, a.p, CUDA_R_32F, m, b.p, CUDA_R_32F, k, &zero,
                         c2.p, CUDA_R_32F, m, CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_SUCCESS);
  int differ = 0;
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      const float exact = c1[i + j * m], tf32 = c2[i + j * m];
      differ += exact != tf32;
      // TF32 error, not garbage: each input is off by at most 2^-11 relative, each product by 2^-10.
      double sum_abs = 0;
      for (int l = 0; l < k; ++l) sum_abs += std::fabs(static_cast<double>(a[i + l * m]) * b[l + j * k]);
      EXPECT_LE(std::fabs(static_cast<double>(exact) - tf32), 0x1p-10 * sum_abs + 1e-6);
    }
  EXPECT_GT(differ, m * n / 2);
}

TEST(CudaSimFakeCublasGemm, Tf32MathModeAndOverride) {
  CublasHandle h;
  std::mt19937 rng(6);
  ASSERT_EQ(cublasSetMathMode(h.h, CUBLAS_TF32_TENSOR_OP_MATH), CUBLAS_STATUS_SUCCESS);
  // The handle's TF32 math mode lets COMPUTE_32F use TF32; PEDANTIC and f64 never do.
  check_gemm<float>(h.h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 8, 0, 0, 0, 1, 1.0, 0.0, CUBLAS_COMPUTE_32F, true, rng);
  check_gemm<float>(h.h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 8, 0, 0, 0, 1, 1.0, 0.0, CUBLAS_COMPUTE_32F_PEDANTIC, false,
                    rng);
  check_gemm<double>(h.h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 8, 0, 0, 0, 1, 1.0, 0.0, CUBLAS_COMPUTE_64F, false, rng);
  tiny_gemm(h.h);  // cublasSgemm follows the math mode
  EXPECT_TRUE(cublasSimLastGemmUsedTf32(h.h));
  {
    const EnvGuard off("NVIDIA_TF32_OVERRIDE", "0");  // NVIDIA's global switch wins
    check_gemm<float>(h.h, CUBLAS_OP_T, CUBLAS_OP_N, 4, 4, 8, 0, 0, 0, 1, 1.0, 0.0, CUBLAS_COMPUTE_32F_FAST_TF32, false,
                      rng);
    tiny_gemm(h.h);
    EXPECT_FALSE(cublasSimLastGemmUsedTf32(h.h));
  }
  ASSERT_EQ(cublasSetMathMode(h.h, CUBLAS_DEFAULT_MATH), CUBLAS_STATUS_SUCCESS);
  tiny_gemm(h.h);
  EXPECT_FALSE(cublasSimLastGemmUsedTf32(h.h));
}

// cuda/gemm_cublas.cu's call, exactly: row-major C = op(A) op(B) as the column-major
// C^T = op(B)^T op(A)^T (operands swapped, m with n, each trans flag kept).
TEST(CudaSimFakeCublasGemm, RowMajorCallAsGemmCublasMakesIt) {
  cublasHandle_t handle = nullptr;
  ASSERT_EQ(cublasCreate(&handle), CUBLAS_STATUS_SUCCESS);
  DeviceArray<char> workspace(size_t{32} << 20);
  std::mt19937 rng(7);
  for (bool trans_a : {false, true})
    for (bool trans_b : {false, true}) {
      const int M = 5, N = 4, K = 6, batch = 3;
      // Stored row-major shapes: A is M x K (K x M transposed), B is K x N (N x K), with padded rows.
      const int lda = (trans_a ? M : K) + 1, ldb = (trans_b ? K : N) + 2, ldc = N + 1;
      const long long stride_a = static_cast<long long>(lda) * (trans_a ? K : M);
      const long long stride_b = static_cast<long long>(ldb) * (trans_b ? N : K);
      const long long stride_c = static_cast<long long>(ldc) * M;
      DeviceArray<float> a(static_cast<size_t>(stride_a * batch)), b(static_cast<size_t>(stride_b * batch)),
          c(static_cast<size_t>(stride_c * batch));
      a.random(rng), b.random(rng);
      c.fill(std::numeric_limits<float>::quiet_NaN());
      ASSERT_EQ(cublasSetStream(handle, nullptr), CUBLAS_STATUS_SUCCESS);
      ASSERT_EQ(cublasSetWorkspace(handle, workspace.p, workspace.n), CUBLAS_STATUS_SUCCESS);
      const cublasOperation_t op_first = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
      const cublasOperation_t op_second = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
      const float alpha = 1.25f, beta = 0.0f;
      ASSERT_EQ(cublasGemmStridedBatchedEx(handle, op_first, op_second, N, M, K, &alpha, b.p, CUDA_R_32F, ldb, stride_b,
                                           a.p, CUDA_R_32F, lda, stride_a, &beta, c.p, CUDA_R_32F, ldc, stride_c, batch,
                                           CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                CUBLAS_STATUS_SUCCESS);
      EXPECT_TRUE(cublasSimLastGemmUsedUserWorkspace(handle));
      for (int q = 0; q < batch; ++q)
        for (int i = 0; i < M; ++i)
          for (int j = 0; j < N; ++j) {
            long double acc = 0, mag = 0;
            for (int l = 0; l < K; ++l) {
              const float av = trans_a ? a[q * stride_a + l * lda + i] : a[q * stride_a + i * lda + l];
              const float bv = trans_b ? b[q * stride_b + j * ldb + l] : b[q * stride_b + l * ldb + j];
              acc += static_cast<long double>(av) * bv, mag += std::fabs(static_cast<long double>(av) * bv);
            }
            expect_close<float>(c[q * stride_c + i * ldc + j], alpha * acc, alpha * mag,
                                "row-major ta " + std::to_string(trans_a) + " tb " + std::to_string(trans_b));
          }
    }
  cublasDestroy(handle);
}

// ---- cuBLAS: argument checks, one documented error per test
// ------------------------------------------------------------

// A valid 3x3x3 problem the checks below break one argument of.
struct GemmArgsFixture : ::testing::Test {
  CublasHandle h;
  DeviceArray<float> a{9}, b{9}, c{9};
  float one = 1, zero = 0;
  cublasStatus_t call(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, int lda, int ldb, int ldc,
                      int batch = 1, const void* pa = nullptr, const void* pb = nullptr, void* pc = nullptr,
                      cudaDataType type = CUDA_R_32F, cublasComputeType_t compute = CUBLAS_COMPUTE_32F,
                      cublasGemmAlgo_t algo = CUBLAS_GEMM_DEFAULT, long long sc = 9) {
    return cublasGemmStridedBatchedEx(h.h, ta, tb, m, n, k, &one, pa ? pa : a.p, type, lda, 0, pb ? pb : b.p, type, ldb,
                                      0, &zero, pc ? pc : c.p, type, ldc, sc, batch, compute, algo);
  }
};
using CudaSimFakeCublasArgs = GemmArgsFixture;

TEST_F(CudaSimFakeCublasArgs, ValidCallSucceeds) {
  EXPECT_EQ(call(CUBLAS_OP_N, CUBLAS_OP_N, 3, 3, 3, 3, 3, 3), CUBLAS_STATUS_SUCCESS);
}

TEST_F(CudaSimFakeCublasArgs, NullOrDestroyedHandleIsNotInitialized) {
  EXPECT_EQ(cublasSgemm(nullptr, CUBLAS_OP_N, CUBLAS_OP_N, 3, 3, 3, &one, a.p, 3, b.p, 3, &zero, c.p, 3),
            CUBLAS_STATUS_NOT_INITIALIZED);
  cublasHandle_t gone = nullptr;
  ASSERT_EQ(cublasCreate(&gone), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasDestroy(gone), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(cublasGemmEx(gone, CUBLAS_OP_N, CUBLAS_OP_N, 3, 3, 3, &one, a.p, CUDA_R_32F, 3, b.p, CUDA_R_32F, 3, &zero,
                         c.p, CUDA_R_32F, 3, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_NOT_INITIALIZED);
}

TEST_F(CudaSimFakeCublasArgs, NegativeSizesAreInvalid) {
  EXPECT_EQ(call(CUBLAS_OP_N, CUBLAS_OP_N, -1, 3, 3, 3, 3, 3), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(call(CUBLAS_OP_N, CUBLAS_OP_N, 3, -1, 3, 3, 3, 3), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(call(CUBLAS_OP_N, CUBLAS_OP_N, 3, 3, -1, 3, 3, 3), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(call(CUBLAS_OP_N, CUBLAS_OP_N, 3, 3, 3, 3, 3, 3, -1), CUBLAS_STATUS_INVALID_VALUE);
}

TEST_F(CudaSimFakeCublasArgs, LdaBelowRowsOfStoredAIsInvalid) {
  // lda >= max(1, transa == N ? m : k).
  EXPECT_EQ(call(CUBLAS_OP_N, CUBLAS_OP_N, 3, 3, 2, 2, 3, 3), CUBLAS_STATUS_INVALID_VALUE);  // lda 2 < m 3
  EXPECT_EQ(call(CUBLAS_OP_T, CUBLAS_OP_N, 3, 3, 3, 2, 3, 3),
            CUBLAS_STATUS_INVALID_VALUE);                                              // stored k x m: lda 2 < k 3
  EXPECT_EQ(call(CUBLAS_OP_N, CUBLAS_OP_N, 2, 3, 3, 2, 3, 3), CUBLAS_STATUS_SUCCESS);  // lda 2 >= m 2
}

TEST_F(CudaSimFakeCublasArgs, LdbBelowRowsOfStoredBIsInvalid) {
  // ldb >= max(1, transb == N ? k : n).
  EXPECT_EQ(call(CUBLAS_OP_N, CUBLAS_OP_N, 3, 3, 3, 3, 2, 3), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(call(CUBLAS_OP_N, CUBLAS_OP_T, 3, 3, 2, 3, 2, 3), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(call(CUBLAS_OP_N, CUBLAS_OP_T, 3, 2, 3, 3, 2, 3), CUBLAS_STATUS_SUCCESS);
}

TEST_F(CudaSimFakeCublasArgs, LdcBelowMIsInvalid) {
  EXPECT_EQ(call(CUBLAS_OP_N, CUBLAS_OP_N, 3, 3, 3, 3, 3, 2), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(call(CUBLAS_OP_N, CUBLAS_OP_N, 0, 3, 3, 1, 3, 0), CUBLAS_STATUS_INVALID_VALUE);  // max(1, m) even for m = 0
}

TEST_F(CudaSimFakeCublasArgs, InvalidOperationIsInvalid) {
  EXPECT_EQ(call(static_cast<cublasOperation_t>(5), CUBLAS_OP_N, 3, 3, 3, 3, 3, 3), CUBLAS_STATUS_INVALID_VALUE);
}

TEST_F(CudaSimFakeCublasArgs, NullScalingFactorIsInvalid) {
  EXPECT_EQ(cublasSgemm(h.h, CUBLAS_OP_N, CUBLAS_OP_N, 3, 3, 3, nullptr, a.p, 3, b.p, 3, &zero, c.p, 3),
            CUBLAS_STATUS_INVALID_VALUE);
}

TEST_F(CudaSimFakeCublasArgs, UnsupportedTypeCombinationsAreNotSupported) {
  DeviceArray<double> d(9);
  EXPECT_EQ(
      call(CUBLAS_OP_N, CUBLAS_OP_N, 3, 3, 3, 3, 3, 3, 1, nullptr, nullptr, nullptr, CUDA_R_32F, CUBLAS_COMPUTE_64F),
      CUBLAS_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(call(CUBLAS_OP_N, CUBLAS_OP_N, 3, 3, 3, 3, 3, 3, 1, d.p, d.p, d.p, CUDA_R_64F, CUBLAS_COMPUTE_32F),
            CUBLAS_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(
      call(CUBLAS_OP_N, CUBLAS_OP_N, 3, 3, 3, 3, 3, 3, 1, d.p, d.p, d.p, CUDA_R_64F, CUBLAS_COMPUTE_32F_FAST_TF32),
      CUBLAS_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(
      call(CUBLAS_OP_N, CUBLAS_OP_N, 3, 3, 3, 3, 3, 3, 1, nullptr, nullptr, nullptr, CUDA_R_16F, CUBLAS_COMPUTE_32F),
      CUBLAS_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(cublasGemmEx(h.h, CUBLAS_OP_N, CUBLAS_OP_N, 3, 3, 3, &one, a.p, CUDA_R_32F, 3, d.p, CUDA_R_64F, 3, &zero,
                         c.p, CUDA_R_32F, 3, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_NOT_SUPPORTED);  // mixed types
}

TEST_F(CudaSimFakeCublasArgs, UnknownAlgorithmIsNotSupported) {
  EXPECT_EQ(call(CUBLAS_OP_N, CUBLAS_OP_N, 3, 3, 3, 3, 3, 3, 1, nullptr, nullptr, nullptr, CUDA_R_32F,
                 CUBLAS_COMPUTE_32F, static_cast<cublasGemmAlgo_t>(50)),
            CUBLAS_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(call(CUBLAS_OP_N, CUBLAS_OP_N, 3, 3, 3, 3, 3, 3, 1, nullptr, nullptr, nullptr, CUDA_R_32F,
                 CUBLAS_COMPUTE_32F, CUBLAS_GEMM_ALGO15_TENSOR_OP),
            CUBLAS_STATUS_SUCCESS);
}

TEST_F(CudaSimFakeCublasArgs, HostPointerIsReportedNotDereferenced) {
  std::vector<float> host(9, 1.0f);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(call(CUBLAS_OP_N, CUBLAS_OP_N, 3, 3, 3, 3, 3, 3, 1, nullptr, host.data()), CUBLAS_STATUS_INVALID_VALUE);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("cublasGemmStridedBatchedEx"), std::string::npos) << err;
  EXPECT_NE(err.find("B = "), std::string::npos) << err;
  EXPECT_NE(err.find("not device memory"), std::string::npos) << err;
}

TEST_F(CudaSimFakeCublasArgs, OperandExtentBeyondItsAllocationIsInvalid) {
  // A is 3 x 3 with lda 4: the last element is at 2*4 + 2 = 10, beyond the 9 allocated.
  EXPECT_EQ(call(CUBLAS_OP_N, CUBLAS_OP_N, 3, 3, 3, 4, 3, 3), CUBLAS_STATUS_INVALID_VALUE);
  // Two batches of C with stride 9 need 18 elements.
  EXPECT_EQ(call(CUBLAS_OP_N, CUBLAS_OP_N, 3, 3, 3, 3, 3, 3, 2), CUBLAS_STATUS_INVALID_VALUE);
  // The strided-batch extent counts the stride: A broadcast (stride 0) over 2 batches is fine.
  DeviceArray<float> c2(18);
  EXPECT_EQ(call(CUBLAS_OP_N, CUBLAS_OP_N, 3, 3, 3, 3, 3, 3, 2, nullptr, nullptr, c2.p), CUBLAS_STATUS_SUCCESS);
  // A pointer inside the allocation but near its end.
  EXPECT_EQ(call(CUBLAS_OP_N, CUBLAS_OP_N, 3, 3, 3, 3, 3, 3, 1, a.p + 1), CUBLAS_STATUS_INVALID_VALUE);
}

TEST_F(CudaSimFakeCublasArgs, OverlappingOutputBatchesAreRefused) {
  DeviceArray<float> big(64);
  EXPECT_EQ(call(CUBLAS_OP_N, CUBLAS_OP_N, 3, 3, 3, 3, 3, 3, 2, nullptr, nullptr, big.p, CUDA_R_32F, CUBLAS_COMPUTE_32F,
                 CUBLAS_GEMM_DEFAULT, 0),
            CUBLAS_STATUS_INVALID_VALUE);  // strideC 0: both batches write the same C
  EXPECT_EQ(call(CUBLAS_OP_N, CUBLAS_OP_N, 3, 3, 3, 3, 3, 3, 2, nullptr, nullptr, big.p, CUDA_R_32F, CUBLAS_COMPUTE_32F,
                 CUBLAS_GEMM_DEFAULT, 8),
            CUBLAS_STATUS_INVALID_VALUE);  // 8 < one matrix
  // Interleaved but disjoint: ldc 6, m 3, strideC 3 puts batch 1 in the rows batch 0 skips.
  EXPECT_EQ(call(CUBLAS_OP_N, CUBLAS_OP_N, 3, 3, 3, 3, 3, 6, 2, nullptr, nullptr, big.p, CUDA_R_32F, CUBLAS_COMPUTE_32F,
                 CUBLAS_GEMM_DEFAULT, 3),
            CUBLAS_STATUS_SUCCESS);
}

// ---- cuDNN: helpers
// --------------------------------------------------------------------------------------------------

struct CudnnHandle {
  cudnnHandle_t h = nullptr;
  CudnnHandle() { EXPECT_EQ(cudnnCreate(&h), CUDNN_STATUS_SUCCESS); }
  ~CudnnHandle() { cudnnDestroy(h); }
};

// Layout of one side of a test convolution: format, or explicit padding of the NCHW strides.
enum class Layout { nchw, nhwc, padded };

struct ConvCase {
  int n, c, h, w, k, r, s;
  int pad_h, pad_w, stride_h, stride_w, dil_h, dil_w;
  cudnnConvolutionMode_t mode;
  Layout x_layout, y_layout;
  cudnnTensorFormat_t filter_format;
  int oh() const { return (h + 2 * pad_h - ((r - 1) * dil_h + 1)) / stride_h + 1; }
  int ow() const { return (w + 2 * pad_w - ((s - 1) * dil_w + 1)) / stride_w + 1; }
};

// Element strides of a 4-d array in a layout (the padded layout leaves gaps after rows and planes).
struct Strides {
  long long n, c, h, w, total;
};
Strides strides_of(Layout l, int N, int C, int H, int W) {
  if (l == Layout::nhwc) return {1LL * H * W * C, 1, 1LL * W * C, C, 1LL * N * H * W * C};
  if (l == Layout::padded) {
    const long long rs = W + 2, cs = rs * H + 3, ns = cs * C + 5;
    return {ns, cs, rs, 1, ns * N};
  }
  return {1LL * C * H * W, 1LL * H * W, W, 1, 1LL * N * C * H * W};
}
Strides filter_strides(cudnnTensorFormat_t f, int K, int C, int R, int S) {
  return f == CUDNN_TENSOR_NHWC ? Strides{1LL * R * S * C, 1, 1LL * S * C, C, 1LL * K * R * S * C}
                                : Strides{1LL * C * R * S, 1LL * R * S, S, 1, 1LL * K * C * R * S};
}

void set_tensor(cudnnTensorDescriptor_t d, cudnnDataType_t t, Layout l, int N, int C, int H, int W) {
  if (l == Layout::padded) {
    const Strides s = strides_of(l, N, C, H, W);
    ASSERT_EQ(cudnnSetTensor4dDescriptorEx(d, t, N, C, H, W, static_cast<int>(s.n), static_cast<int>(s.c),
                                           static_cast<int>(s.h), static_cast<int>(s.w)),
              CUDNN_STATUS_SUCCESS);
  } else {
    ASSERT_EQ(cudnnSetTensor4dDescriptor(d, l == Layout::nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW, t, N, C, H, W),
              CUDNN_STATUS_SUCCESS);
  }
}

// Descriptors of one convolution (destroyed with it).
struct ConvDescs {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  ConvDescs(const ConvCase& cc, cudnnDataType_t t, cudnnMathType_t math) {
    EXPECT_EQ(cudnnCreateTensorDescriptor(&x), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnCreateTensorDescriptor(&y), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnCreateFilterDescriptor(&w), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnCreateConvolutionDescriptor(&conv), CUDNN_STATUS_SUCCESS);
    set_tensor(x, t, cc.x_layout, cc.n, cc.c, cc.h, cc.w);
    set_tensor(y, t, cc.y_layout, cc.n, cc.k, cc.oh(), cc.ow());
    EXPECT_EQ(cudnnSetFilter4dDescriptor(w, t, cc.filter_format, cc.k, cc.c, cc.r, cc.s), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnSetConvolution2dDescriptor(conv, cc.pad_h, cc.pad_w, cc.stride_h, cc.stride_w, cc.dil_h, cc.dil_w,
                                              cc.mode, t),
              CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnSetConvolutionMathType(conv, math), CUDNN_STATUS_SUCCESS);
  }
  ~ConvDescs() {
    cudnnDestroyConvolutionDescriptor(conv);
    cudnnDestroyFilterDescriptor(w);
    cudnnDestroyTensorDescriptor(y);
    cudnnDestroyTensorDescriptor(x);
  }
};

// The buffers of one convolution, random, with the reference's element accessors.
template <class T>
struct ConvData {
  const ConvCase& cc;
  Strides xs, ys, ws;
  DeviceArray<T> x, y, w;
  ConvData(const ConvCase& c, std::mt19937& rng)
      : cc(c),
        xs(strides_of(c.x_layout, c.n, c.c, c.h, c.w)),
        ys(strides_of(c.y_layout, c.n, c.k, c.oh(), c.ow())),
        ws(filter_strides(c.filter_format, c.k, c.c, c.r, c.s)),
        x(static_cast<size_t>(xs.total)),
        y(static_cast<size_t>(ys.total)),
        w(static_cast<size_t>(ws.total)) {
    x.random(rng), y.random(rng), w.random(rng);
  }
  static long long at(const Strides& s, int a, int b, int c, int d) { return a * s.n + b * s.c + c * s.h + d * s.w; }
  long long xi(int n, int c, int h, int w_) const { return at(xs, n, c, h, w_); }
  long long yi(int n, int k, int h, int w_) const { return at(ys, n, k, h, w_); }
  long long wi(int k, int c, int r, int s) const { return at(ws, k, c, r, s); }
  // The filter tap a cross-correlation offset (r, s) uses: mirrored for CUDNN_CONVOLUTION.
  int tr(int r) const { return cc.mode == CUDNN_CONVOLUTION ? cc.r - 1 - r : r; }
  int ts(int s) const { return cc.mode == CUDNN_CONVOLUTION ? cc.s - 1 - s : s; }
};

template <class T>
long double in_val(T v, bool tf32) {
  if constexpr (std::is_same_v<T, float>) return tf32 ? tf32_reference(v) : v;
  return v;
}

// Reference forward: y[n,k,oh,ow] = sum over c, r, s of x at (oh*u - pad + r*dil) times the tap.
template <class T>
void ref_forward(const ConvData<T>& d, const std::vector<T>& x, const std::vector<T>& w, bool tf32,
                 std::vector<long double>* acc, std::vector<long double>* mag) {
  const ConvCase& c = d.cc;
  acc->assign(d.y.n, 0), mag->assign(d.y.n, 0);
  for (int n = 0; n < c.n; ++n)
    for (int k = 0; k < c.k; ++k)
      for (int oh = 0; oh < c.oh(); ++oh)
        for (int ow = 0; ow < c.ow(); ++ow) {
          long double s = 0, m = 0;
          for (int ch = 0; ch < c.c; ++ch)
            for (int r = 0; r < c.r; ++r)
              for (int q = 0; q < c.s; ++q) {
                const int ih = oh * c.stride_h - c.pad_h + r * c.dil_h, iw = ow * c.stride_w - c.pad_w + q * c.dil_w;
                if (ih < 0 || ih >= c.h || iw < 0 || iw >= c.w) continue;
                const long double t =
                    in_val(x[d.xi(n, ch, ih, iw)], tf32) * in_val(w[d.wi(k, ch, d.tr(r), d.ts(q))], tf32);
                s += t, m += std::fabs(t);
              }
          (*acc)[d.yi(n, k, oh, ow)] = s, (*mag)[d.yi(n, k, oh, ow)] = m;
        }
}

// Reference backward data, gathered per dx element (the fake scatters): the output positions whose
// window covers (ih, iw) through tap (r, s) are those with oh*u = ih + pad - r*dil.
template <class T>
void ref_backward_data(const ConvData<T>& d, const std::vector<T>& dy, const std::vector<T>& w, bool tf32,
                       std::vector<long double>* acc, std::vector<long double>* mag) {
  const ConvCase& c = d.cc;
  acc->assign(d.x.n, 0), mag->assign(d.x.n, 0);
  for (int n = 0; n < c.n; ++n)
    for (int ch = 0; ch < c.c; ++ch)
      for (int ih = 0; ih < c.h; ++ih)
        for (int iw = 0; iw < c.w; ++iw) {
          long double s = 0, m = 0;
          for (int k = 0; k < c.k; ++k)
            for (int r = 0; r < c.r; ++r)
              for (int q = 0; q < c.s; ++q) {
                const int th = ih + c.pad_h - r * c.dil_h, tw = iw + c.pad_w - q * c.dil_w;
                if (th < 0 || tw < 0 || th % c.stride_h || tw % c.stride_w) continue;
                const int oh = th / c.stride_h, ow = tw / c.stride_w;
                if (oh >= c.oh() || ow >= c.ow()) continue;
                const long double t =
                    in_val(dy[d.yi(n, k, oh, ow)], tf32) * in_val(w[d.wi(k, ch, d.tr(r), d.ts(q))], tf32);
                s += t, m += std::fabs(t);
              }
          (*acc)[d.xi(n, ch, ih, iw)] = s, (*mag)[d.xi(n, ch, ih, iw)] = m;
        }
}

// Reference backward filter: dw at the tap (r, s) uses = sum over n, oh, ow of x times dy.
template <class T>
void ref_backward_filter(const ConvData<T>& d, const std::vector<T>& x, const std::vector<T>& dy, bool tf32,
                         std::vector<long double>* acc, std::vector<long double>* mag) {
  const ConvCase& c = d.cc;
  acc->assign(d.w.n, 0), mag->assign(d.w.n, 0);
  for (int k = 0; k < c.k; ++k)
    for (int ch = 0; ch < c.c; ++ch)
      for (int r = 0; r < c.r; ++r)
        for (int q = 0; q < c.s; ++q) {
          long double s = 0, m = 0;
          for (int n = 0; n < c.n; ++n)
            for (int oh = 0; oh < c.oh(); ++oh)
              for (int ow = 0; ow < c.ow(); ++ow) {
                const int ih = oh * c.stride_h - c.pad_h + r * c.dil_h, iw = ow * c.stride_w - c.pad_w + q * c.dil_w;
                if (ih < 0 || ih >= c.h || iw < 0 || iw >= c.w) continue;
                const long double t = in_val(x[d.xi(n, ch, ih, iw)], tf32) * in_val(dy[d.yi(n, k, oh, ow)], tf32);
                s += t, m += std::fabs(t);
              }
          (*acc)[d.wi(k, ch, d.tr(r), d.ts(q))] = s, (*mag)[d.wi(k, ch, d.tr(r), d.ts(q))] = m;
        }
}

// The element indices of a layout that belong to the array (padded layouts have gaps).
std::vector<long long> elements(const Strides& s, int A, int B, int C, int D) {
  std::vector<long long> v;
  for (int a = 0; a < A; ++a)
    for (int b = 0; b < B; ++b)
      for (int c = 0; c < C; ++c)
        for (int d = 0; d < D; ++d) v.push_back(a * s.n + b * s.c + c * s.h + d * s.w);
  return v;
}

// out = alpha*acc + beta*before on the array's elements; gaps unchanged.
template <class T>
void expect_output(const DeviceArray<T>& out, const std::vector<T>& before, const std::vector<long long>& idx,
                   const std::vector<long double>& acc, const std::vector<long double>& mag, double alpha, double beta,
                   const std::string& what) {
  std::vector<bool> in(out.n, false);
  for (long long i : idx) {
    in[i] = true;
    const long double want = alpha * acc[i] + (beta == 0 ? 0.0L : beta * static_cast<long double>(before[i]));
    const long double m =
        std::fabs(alpha) * mag[i] + (beta == 0 ? 0.0L : std::fabs(beta * static_cast<long double>(before[i])));
    expect_close<T>(out.p[i], want, m, what + " element " + std::to_string(i));
  }
  for (size_t i = 0; i < out.n; ++i)
    if (!in[i]) {
      EXPECT_EQ(std::memcmp(&out.p[i], &before[i], sizeof(T)), 0) << what << ": gap element " << i << " changed";
    }
}

const ConvCase kCases[] = {
    // n c h w  k r s  pad  stride dil  mode  x layout  y layout  filter
    {2, 3, 7, 6, 4, 3, 2, 1, 0, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, Layout::nchw, Layout::nchw, CUDNN_TENSOR_NCHW},
    {2, 3, 9, 8, 2, 3, 3, 1, 2, 2, 1, 1, 2, CUDNN_CROSS_CORRELATION, Layout::nhwc, Layout::nchw, CUDNN_TENSOR_NHWC},
    {1, 2, 8, 9, 3, 2, 3, 0, 1, 2, 3, 2, 1, CUDNN_CONVOLUTION, Layout::padded, Layout::padded, CUDNN_TENSOR_NCHW},
    {3, 4, 5, 5, 2, 1, 1, 0, 0, 1, 1, 1, 1, CUDNN_CONVOLUTION, Layout::nchw, Layout::nhwc, CUDNN_TENSOR_NHWC},
};

std::string case_name(const ConvCase& c) {
  return "x[" + std::to_string(c.n) + "," + std::to_string(c.c) + "," + std::to_string(c.h) + "," +
         std::to_string(c.w) + "] w[" + std::to_string(c.k) + "," + std::to_string(c.r) + "," + std::to_string(c.s) +
         "] pad " + std::to_string(c.pad_h) + "," + std::to_string(c.pad_w) + " stride " + std::to_string(c.stride_h) +
         "," + std::to_string(c.stride_w) + " dil " + std::to_string(c.dil_h) + "," + std::to_string(c.dil_w) +
         (c.mode == CUDNN_CONVOLUTION ? " conv" : " xcorr");
}

// Every algorithm Find reports SUCCESS for, run against the reference in one direction, with FMA
// math (exact) or with default math (the tensor-core algorithm rounds to TF32 on f32).
enum class Dir { forward, backward_data, backward_filter };

template <class T>
void check_direction(Dir dir, cudnnMathType_t math, double alpha, double beta, uint32_t seed) {
  const cudnnDataType_t type = std::is_same_v<T, float> ? CUDNN_DATA_FLOAT : CUDNN_DATA_DOUBLE;
  CudnnHandle h;
  for (const ConvCase& cc : kCases) {
    std::mt19937 rng(seed);
    ConvDescs d(cc, type, math);
    ConvData<T> data(cc, rng);
    DeviceArray<char> ws(size_t{64} << 20);
    // Find: the algorithms that run here.
    std::vector<std::pair<int, cudnnMathType_t>> algos;
    int returned = 0;
    if (dir == Dir::forward) {
      cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
      ASSERT_EQ(cudnnFindConvolutionForwardAlgorithmEx(h.h, d.x, data.x.p, d.w, data.w.p, d.conv, d.y, data.y.p,
                                                       CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, perf, ws.p, ws.n),
                CUDNN_STATUS_SUCCESS);
      for (int i = 0; i < returned; ++i)
        if (perf[i].status == CUDNN_STATUS_SUCCESS) algos.push_back({perf[i].algo, perf[i].mathType});
    } else if (dir == Dir::backward_data) {
      cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
      ASSERT_EQ(cudnnFindConvolutionBackwardDataAlgorithmEx(h.h, d.w, data.w.p, d.y, data.y.p, d.conv, d.x, data.x.p,
                                                            CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &returned, perf,
                                                            ws.p, ws.n),
                CUDNN_STATUS_SUCCESS);
      for (int i = 0; i < returned; ++i)
        if (perf[i].status == CUDNN_STATUS_SUCCESS) algos.push_back({perf[i].algo, perf[i].mathType});
    } else {
      cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
      ASSERT_EQ(cudnnFindConvolutionBackwardFilterAlgorithmEx(h.h, d.x, data.x.p, d.y, data.y.p, d.conv, d.w, data.w.p,
                                                              CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &returned, perf,
                                                              ws.p, ws.n),
                CUDNN_STATUS_SUCCESS);
      for (int i = 0; i < returned; ++i)
        if (perf[i].status == CUDNN_STATUS_SUCCESS) algos.push_back({perf[i].algo, perf[i].mathType});
    }
    ASSERT_GE(algos.size(), 2u) << case_name(cc);
    for (auto [algo, reported] : algos) {
      const bool tf32 = reported == CUDNN_TENSOR_OP_MATH;
      if (math == CUDNN_FMA_MATH) {
        EXPECT_EQ(reported, CUDNN_FMA_MATH);
      }
      // Fresh inputs, and an output holding random values (beta != 0) or NaN (beta == 0: not read).
      data.x.random(rng), data.y.random(rng), data.w.random(rng);
      DeviceArray<T>& out = dir == Dir::forward ? data.y : dir == Dir::backward_data ? data.x : data.w;
      if (beta == 0) out.fill(std::numeric_limits<T>::quiet_NaN());
      const std::vector<T> xs = data.x.copy(), ys = data.y.copy(), wv = data.w.copy(), before = out.copy();
      const T al = static_cast<T>(alpha), be = static_cast<T>(beta);
      std::vector<long double> acc, mag;
      const std::string what = case_name(cc) + " algo " + std::to_string(algo);
      size_t need = 0;
      if (dir == Dir::forward) {
        ASSERT_EQ(cudnnGetConvolutionForwardWorkspaceSize(h.h, d.x, d.w, d.conv, d.y,
                                                          static_cast<cudnnConvolutionFwdAlgo_t>(algo), &need),
                  CUDNN_STATUS_SUCCESS);
        ASSERT_EQ(cudnnConvolutionForward(h.h, &al, d.x, data.x.p, d.w, data.w.p, d.conv,
                                          static_cast<cudnnConvolutionFwdAlgo_t>(algo), ws.p, need, &be, d.y, data.y.p),
                  CUDNN_STATUS_SUCCESS)
            << what;
        ref_forward(data, xs, wv, tf32, &acc, &mag);
        expect_output(data.y, before, elements(data.ys, cc.n, cc.k, cc.oh(), cc.ow()), acc, mag, alpha, beta,
                      "forward " + what);
      } else if (dir == Dir::backward_data) {
        ASSERT_EQ(cudnnGetConvolutionBackwardDataWorkspaceSize(h.h, d.w, d.y, d.conv, d.x,
                                                               static_cast<cudnnConvolutionBwdDataAlgo_t>(algo), &need),
                  CUDNN_STATUS_SUCCESS);
        ASSERT_EQ(cudnnConvolutionBackwardData(h.h, &al, d.w, data.w.p, d.y, data.y.p, d.conv,
                                               static_cast<cudnnConvolutionBwdDataAlgo_t>(algo), ws.p, need, &be, d.x,
                                               data.x.p),
                  CUDNN_STATUS_SUCCESS)
            << what;
        ref_backward_data(data, ys, wv, tf32, &acc, &mag);
        expect_output(data.x, before, elements(data.xs, cc.n, cc.c, cc.h, cc.w), acc, mag, alpha, beta,
                      "backward data " + what);
      } else {
        ASSERT_EQ(cudnnGetConvolutionBackwardFilterWorkspaceSize(
                      h.h, d.x, d.y, d.conv, d.w, static_cast<cudnnConvolutionBwdFilterAlgo_t>(algo), &need),
                  CUDNN_STATUS_SUCCESS);
        ASSERT_EQ(cudnnConvolutionBackwardFilter(h.h, &al, d.x, data.x.p, d.y, data.y.p, d.conv,
                                                 static_cast<cudnnConvolutionBwdFilterAlgo_t>(algo), ws.p, need, &be,
                                                 d.w, data.w.p),
                  CUDNN_STATUS_SUCCESS)
            << what;
        ref_backward_filter(data, xs, ys, tf32, &acc, &mag);
        expect_output(data.w, before, elements(data.ws, cc.k, cc.c, cc.r, cc.s), acc, mag, alpha, beta,
                      "backward filter " + what);
      }
      const std::vector<CudnnSimCall> log = cudnnSimCallLog(h.h);
      ASSERT_FALSE(log.empty());
      EXPECT_EQ(log.back().algo, algo);
      EXPECT_EQ(log.back().tf32, tf32);
      EXPECT_EQ(log.back().workspace_bytes, need);
    }
  }
}

// ---- cuDNN: library, handle, descriptors
// ------------------------------------------------------------------------------

TEST(CudaSimFakeCudnn, VersionStatusesAndValues) {
  EXPECT_EQ(cudnnGetVersion(), static_cast<size_t>(CUDNN_VERSION));
  EXPECT_EQ(CUDNN_VERSION, 90100);  // cuDNN 9 encodes major*10000 + minor*100 + patch
  EXPECT_STREQ(cudnnGetErrorString(CUDNN_STATUS_SUCCESS), "CUDNN_STATUS_SUCCESS");
  EXPECT_STREQ(cudnnGetErrorString(CUDNN_STATUS_BAD_PARAM), "CUDNN_STATUS_BAD_PARAM");
  EXPECT_STREQ(cudnnGetErrorString(CUDNN_STATUS_NOT_SUPPORTED), "CUDNN_STATUS_NOT_SUPPORTED");
  EXPECT_EQ(CUDNN_STATUS_BAD_PARAM, 2000);
  EXPECT_EQ(CUDNN_STATUS_NOT_SUPPORTED, 3000);
  EXPECT_EQ(CUDNN_FMA_MATH, 3);
  EXPECT_EQ(CUDNN_CROSS_CORRELATION, 1);
  EXPECT_EQ(CUDNN_CONVOLUTION_FWD_ALGO_COUNT, 8);
  EXPECT_EQ(CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, 6);
  EXPECT_EQ(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, 7);
}

TEST(CudaSimFakeCudnn, HandleAndStream) {
  EXPECT_EQ(cudnnCreate(nullptr), CUDNN_STATUS_BAD_PARAM);
  cudnnHandle_t h = nullptr;
  ASSERT_EQ(cudnnCreate(&h), CUDNN_STATUS_SUCCESS);
  const cudaStream_t s = reinterpret_cast<cudaStream_t>(0x42);
  ASSERT_EQ(cudnnSetStream(h, s), CUDNN_STATUS_SUCCESS);
  cudaStream_t got = nullptr;
  ASSERT_EQ(cudnnGetStream(h, &got), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(got, s);
  EXPECT_EQ(cudnnSetStream(nullptr, s), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnDestroy(h), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnDestroy(h), CUDNN_STATUS_BAD_PARAM);  // destroyed twice
  EXPECT_EQ(cudnnSetStream(h, s), CUDNN_STATUS_BAD_PARAM);
}

TEST(CudaSimFakeCudnn, TensorDescriptorChecks) {
  cudnnTensorDescriptor_t t = nullptr;
  ASSERT_EQ(cudnnCreateTensorDescriptor(&t), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnSetTensor4dDescriptor(t, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 0, 3, 4, 5), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetTensor4dDescriptor(t, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 2, -3, 4, 5), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetTensor4dDescriptor(t, CUDNN_TENSOR_NCHW_VECT_C, CUDNN_DATA_FLOAT, 2, 3, 4, 5),
            CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetTensor4dDescriptor(t, CUDNN_TENSOR_NCHW, static_cast<cudnnDataType_t>(99), 2, 3, 4, 5),
            CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetTensor4dDescriptorEx(t, CUDNN_DATA_FLOAT, 2, 3, 4, 5, 60, 20, -5, 1), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetTensor4dDescriptor(t, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1024, 1024, 1024, 4),
            CUDNN_STATUS_NOT_SUPPORTED);  // over 2 Giga-elements
  // NCHW and NHWC strides, read back.
  cudnnDataType_t type;
  int n, c, h, w, ns, cs, hs, ws;
  ASSERT_EQ(cudnnSetTensor4dDescriptor(t, CUDNN_TENSOR_NHWC, CUDNN_DATA_DOUBLE, 2, 3, 4, 5), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnGetTensor4dDescriptor(t, &type, &n, &c, &h, &w, &ns, &cs, &hs, &ws), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(type, CUDNN_DATA_DOUBLE);
  EXPECT_EQ(std::vector<int>({n, c, h, w, ns, cs, hs, ws}), std::vector<int>({2, 3, 4, 5, 60, 1, 15, 3}));
  ASSERT_EQ(cudnnSetTensor4dDescriptor(t, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 2, 3, 4, 5), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnGetTensor4dDescriptor(t, &type, &n, &c, &h, &w, &ns, &cs, &hs, &ws), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(std::vector<int>({ns, cs, hs, ws}), std::vector<int>({60, 20, 5, 1}));
  EXPECT_EQ(cudnnDestroyTensorDescriptor(t), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnDestroyTensorDescriptor(t), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetTensor4dDescriptor(t, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 2, 3, 4, 5), CUDNN_STATUS_BAD_PARAM);
}

TEST(CudaSimFakeCudnn, FilterAndConvolutionDescriptorChecks) {
  cudnnFilterDescriptor_t f = nullptr;
  cudnnConvolutionDescriptor_t cd = nullptr;
  ASSERT_EQ(cudnnCreateFilterDescriptor(&f), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnCreateConvolutionDescriptor(&cd), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnSetFilter4dDescriptor(f, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, 4, 0, 3, 3), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetFilter4dDescriptor(f, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW_VECT_C, 4, 3, 3, 3),
            CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetFilter4dDescriptor(f, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, 4, 3, 3, 3), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnSetConvolution2dDescriptor(cd, -1, 0, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
            CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetConvolution2dDescriptor(cd, 0, 0, 0, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
            CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetConvolution2dDescriptor(cd, 0, 0, 1, 1, 1, 0, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
            CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(
      cudnnSetConvolution2dDescriptor(cd, 0, 0, 1, 1, 1, 1, static_cast<cudnnConvolutionMode_t>(2), CUDNN_DATA_FLOAT),
      CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetConvolution2dDescriptor(cd, 1, 1, 1, 1, 1, 1, CUDNN_CONVOLUTION, CUDNN_DATA_FLOAT),
            CUDNN_STATUS_SUCCESS);
  cudnnMathType_t math = CUDNN_FMA_MATH;
  ASSERT_EQ(cudnnGetConvolutionMathType(cd, &math), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(math, CUDNN_DEFAULT_MATH);  // a fresh descriptor's math type
  EXPECT_EQ(cudnnSetConvolutionMathType(cd, static_cast<cudnnMathType_t>(4)), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetConvolutionMathType(cd, CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnGetConvolutionMathType(cd, &math), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(math, CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION);
  EXPECT_EQ(cudnnSetConvolutionGroupCount(cd, 0), CUDNN_STATUS_BAD_PARAM);
  int groups = 0;
  ASSERT_EQ(cudnnGetConvolutionGroupCount(cd, &groups), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(groups, 1);
  EXPECT_EQ(cudnnDestroyFilterDescriptor(f), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnDestroyConvolutionDescriptor(cd), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnDestroyConvolutionDescriptor(nullptr), CUDNN_STATUS_SUCCESS);
}

TEST(CudaSimFakeCudnn, ForwardOutputDim) {
  for (const ConvCase& cc : kCases) {
    ConvDescs d(cc, CUDNN_DATA_FLOAT, CUDNN_FMA_MATH);
    int n = 0, c = 0, h = 0, w = 0;
    ASSERT_EQ(cudnnGetConvolution2dForwardOutputDim(d.conv, d.x, d.w, &n, &c, &h, &w), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(std::vector<int>({n, c, h, w}), std::vector<int>({cc.n, cc.k, cc.oh(), cc.ow()})) << case_name(cc);
  }
  // 1 + (in + 2*pad - ((k - 1)*dil + 1)) / stride, by hand: in 10, pad 1, k 3, dil 2, stride 3 -> 3.
  const ConvCase cc{
      1, 2, 10, 10, 5, 3, 3, 1, 1, 3, 3, 2, 2, CUDNN_CROSS_CORRELATION, Layout::nchw, Layout::nchw, CUDNN_TENSOR_NCHW};
  ConvDescs d(cc, CUDNN_DATA_FLOAT, CUDNN_FMA_MATH);
  int n, c, h, w;
  ASSERT_EQ(cudnnGetConvolution2dForwardOutputDim(d.conv, d.x, d.w, &n, &c, &h, &w), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(std::vector<int>({n, c, h, w}), std::vector<int>({1, 5, 3, 3}));
  // A filter wider than the padded input, and x/w channels that disagree.
  ASSERT_EQ(cudnnSetFilter4dDescriptor(d.w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, 5, 2, 3, 13), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnGetConvolution2dForwardOutputDim(d.conv, d.x, d.w, &n, &c, &h, &w), CUDNN_STATUS_BAD_PARAM);
  ASSERT_EQ(cudnnSetFilter4dDescriptor(d.w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, 5, 3, 3, 3), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnGetConvolution2dForwardOutputDim(d.conv, d.x, d.w, &n, &c, &h, &w), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnGetConvolution2dForwardOutputDim(d.conv, d.x, d.w, nullptr, &c, &h, &w), CUDNN_STATUS_BAD_PARAM);
}

// ---- cuDNN: convolution semantics
// --------------------------------------------------------------------------------------

TEST(CudaSimFakeCudnnConv, ForwardMatchesReference) {
  check_direction<float>(Dir::forward, CUDNN_FMA_MATH, 1.0, 0.0, 11);
  check_direction<float>(Dir::forward, CUDNN_FMA_MATH, 0.5, -1.5, 12);
  check_direction<double>(Dir::forward, CUDNN_DEFAULT_MATH, -2.0, 0.25, 13);
}

TEST(CudaSimFakeCudnnConv, BackwardDataMatchesReference) {
  check_direction<float>(Dir::backward_data, CUDNN_FMA_MATH, 1.0, 0.0, 21);
  check_direction<float>(Dir::backward_data, CUDNN_FMA_MATH, 0.5, -1.5, 22);
  check_direction<double>(Dir::backward_data, CUDNN_DEFAULT_MATH, -2.0, 0.25, 23);
}

TEST(CudaSimFakeCudnnConv, BackwardFilterMatchesReference) {
  check_direction<float>(Dir::backward_filter, CUDNN_FMA_MATH, 1.0, 0.0, 31);
  check_direction<float>(Dir::backward_filter, CUDNN_FMA_MATH, 0.5, -1.5, 32);
  check_direction<double>(Dir::backward_filter, CUDNN_DEFAULT_MATH, -2.0, 0.25, 33);
}

TEST(CudaSimFakeCudnnConv, DefaultMathOnF32UsesTf32InTheTensorCoreAlgorithm) {
  // check_direction expects TF32-rounded inputs wherever an algorithm reports CUDNN_TENSOR_OP_MATH.
  check_direction<float>(Dir::forward, CUDNN_DEFAULT_MATH, 1.0, 0.0, 41);
  check_direction<float>(Dir::backward_data, CUDNN_DEFAULT_MATH, 1.0, 0.5, 42);
  check_direction<float>(Dir::backward_filter, CUDNN_TENSOR_OP_MATH, 1.0, 0.0, 43);
}

// <conv(x, w), dy> = <x, conv^T(w, dy)> = <w, corr(x, dy)>: the three directions are one operator.
TEST(CudaSimFakeCudnnConv, DirectionsAreAdjoint) {
  CudnnHandle h;
  for (const ConvCase& cc : kCases) {
    std::mt19937 rng(51);
    ConvDescs d(cc, CUDNN_DATA_DOUBLE, CUDNN_DEFAULT_MATH);
    ConvData<double> data(cc, rng);
    DeviceArray<double> y(data.y.n), dx(data.x.n), dw(data.w.n);
    const double one = 1, zero = 0;
    ASSERT_EQ(cudnnConvolutionForward(h.h, &one, d.x, data.x.p, d.w, data.w.p, d.conv,
                                      CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, nullptr, 0, &zero, d.y, y.p),
              CUDNN_STATUS_SUCCESS);
    ASSERT_EQ(cudnnConvolutionBackwardData(h.h, &one, d.w, data.w.p, d.y, data.y.p, d.conv,
                                           CUDNN_CONVOLUTION_BWD_DATA_ALGO_0, nullptr, 0, &zero, d.x, dx.p),
              CUDNN_STATUS_SUCCESS);
    ASSERT_EQ(cudnnConvolutionBackwardFilter(h.h, &one, d.x, data.x.p, d.y, data.y.p, d.conv,
                                             CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, nullptr, 0, &zero, d.w, dw.p),
              CUDNN_STATUS_SUCCESS);
    long double a = 0, b = 0, c = 0;
    for (long long i : elements(data.ys, cc.n, cc.k, cc.oh(), cc.ow())) a += y[i] * data.y[i];
    for (long long i : elements(data.xs, cc.n, cc.c, cc.h, cc.w)) b += data.x[i] * dx[i];
    for (long long i : elements(data.ws, cc.k, cc.c, cc.r, cc.s)) c += data.w[i] * dw[i];
    EXPECT_NEAR(static_cast<double>(a), static_cast<double>(b), 1e-9) << case_name(cc);
    EXPECT_NEAR(static_cast<double>(a), static_cast<double>(c), 1e-9) << case_name(cc);
  }
}

TEST(CudaSimFakeCudnnConv, Tf32IsObservableAndOverridable) {
  CudnnHandle h;
  const ConvCase& cc = kCases[0];
  std::mt19937 rng(61);
  ConvData<float> data(cc, rng);
  DeviceArray<char> ws(1 << 20);
  const float one = 1, zero = 0;
  auto run = [&](cudnnMathType_t math, DeviceArray<float>& out) {
    ConvDescs d(cc, CUDNN_DATA_FLOAT, math);
    return cudnnConvolutionForward(h.h, &one, d.x, data.x.p, d.w, data.w.p, d.conv,
                                   CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, ws.p, ws.n, &zero, d.y, out.p);
  };
  DeviceArray<float> exact(data.y.n), tf32(data.y.n), overridden(data.y.n);
  ASSERT_EQ(run(CUDNN_FMA_MATH, exact), CUDNN_STATUS_SUCCESS);
  EXPECT_FALSE(cudnnSimCallLog(h.h).back().tf32);
  ASSERT_EQ(run(CUDNN_DEFAULT_MATH, tf32), CUDNN_STATUS_SUCCESS);
  EXPECT_TRUE(cudnnSimCallLog(h.h).back().tf32);
  {
    const EnvGuard off("NVIDIA_TF32_OVERRIDE", "0");
    ASSERT_EQ(run(CUDNN_DEFAULT_MATH, overridden), CUDNN_STATUS_SUCCESS);
    EXPECT_FALSE(cudnnSimCallLog(h.h).back().tf32);
  }
  int differ = 0;
  for (long long i : elements(data.ys, cc.n, cc.k, cc.oh(), cc.ow())) {
    differ += exact[i] != tf32[i];
    EXPECT_EQ(exact[i], overridden[i]);
    EXPECT_NEAR(exact[i], tf32[i], 1e-2);
  }
  EXPECT_GT(differ, 0);
}

// ---- cuDNN: the algorithm list
// -------------------------------------------------------------------------------------------

template <class Perf>
void expect_realistic_list(const Perf* perf, int n, cudnnMathType_t math, bool f32) {
  ASSERT_GE(n, 3);
  ASSERT_LE(n, 5);
  int unsupported = 0, big_workspace = 0;
  float last_time = -1;
  bool seen_failure = false;
  for (int i = 0; i < n; ++i) {
    if (perf[i].status == CUDNN_STATUS_SUCCESS) {
      EXPECT_FALSE(seen_failure) << "successes come first";
      EXPECT_GE(perf[i].time, last_time) << "sorted by time";
      last_time = perf[i].time;
    } else {
      seen_failure = true;
    }
    unsupported += perf[i].status == CUDNN_STATUS_NOT_SUPPORTED;
    big_workspace += perf[i].memory >= (size_t{1} << 20);
    if (math == CUDNN_FMA_MATH) {
      EXPECT_EQ(perf[i].mathType, CUDNN_FMA_MATH);
    }
    if (!f32) {
      EXPECT_NE(perf[i].mathType, CUDNN_TENSOR_OP_MATH);
    }
    for (int r : perf[i].reserved) EXPECT_EQ(r, 0);
  }
  EXPECT_GE(unsupported, 1);
  EXPECT_GE(big_workspace, 1);
  EXPECT_EQ(perf[0].status, CUDNN_STATUS_SUCCESS);
  if (math == CUDNN_DEFAULT_MATH && f32) {
    EXPECT_EQ(perf[0].mathType, CUDNN_TENSOR_OP_MATH);
  }
}

TEST(CudaSimFakeCudnnFind, ReturnsARealisticSortedListInEveryDirection) {
  CudnnHandle h;
  const ConvCase& cc = kCases[0];  // stride 1: the FFT-style algorithms are supported
  DeviceArray<char> ws(size_t{64} << 20);
  for (cudnnDataType_t type : {CUDNN_DATA_FLOAT, CUDNN_DATA_DOUBLE})
    for (cudnnMathType_t math : {CUDNN_FMA_MATH, CUDNN_DEFAULT_MATH}) {
      ConvDescs d(cc, type, math);
      const size_t es = type == CUDNN_DATA_FLOAT ? 4 : 8;
      DeviceArray<char> x(strides_of(cc.x_layout, cc.n, cc.c, cc.h, cc.w).total * es),
          y(strides_of(cc.y_layout, cc.n, cc.k, cc.oh(), cc.ow()).total * es),
          w(filter_strides(cc.filter_format, cc.k, cc.c, cc.r, cc.s).total * es);
      const bool f32 = type == CUDNN_DATA_FLOAT;
      int n = 0;
      cudnnConvolutionFwdAlgoPerf_t fwd[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
      ASSERT_EQ(cudnnFindConvolutionForwardAlgorithmEx(h.h, d.x, x.p, d.w, w.p, d.conv, d.y, y.p,
                                                       CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, fwd, ws.p, ws.n),
                CUDNN_STATUS_SUCCESS);
      expect_realistic_list(fwd, n, math, f32);
      EXPECT_EQ(fwd[0].algo, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM);
      cudnnConvolutionBwdDataAlgoPerf_t bwd[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
      ASSERT_EQ(cudnnFindConvolutionBackwardDataAlgorithmEx(h.h, d.w, w.p, d.y, y.p, d.conv, d.x, x.p,
                                                            CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n, bwd, ws.p, ws.n),
                CUDNN_STATUS_SUCCESS);
      expect_realistic_list(bwd, n, math, f32);
      cudnnConvolutionBwdFilterAlgoPerf_t bwf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
      ASSERT_EQ(
          cudnnFindConvolutionBackwardFilterAlgorithmEx(h.h, d.x, x.p, d.y, y.p, d.conv, d.w, w.p,
                                                        CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n, bwf, ws.p, ws.n),
          CUDNN_STATUS_SUCCESS);
      expect_realistic_list(bwf, n, math, f32);
      // Determinism is reported (the atomics-based backward algorithms are not deterministic).
      bool nondet = false;
      for (int i = 0; i < n; ++i) nondet |= bwf[i].determinism == CUDNN_NON_DETERMINISTIC;
      EXPECT_TRUE(nondet);
    }
}

TEST(CudaSimFakeCudnnFind, HonoursRequestedCountAndWorkspaceLimit) {
  CudnnHandle h;
  const ConvCase& cc = kCases[0];
  ConvDescs d(cc, CUDNN_DATA_FLOAT, CUDNN_FMA_MATH);
  std::mt19937 rng(81);
  ConvData<float> data(cc, rng);
  cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int n = 0;
  ASSERT_EQ(cudnnFindConvolutionForwardAlgorithmEx(h.h, d.x, data.x.p, d.w, data.w.p, d.conv, d.y, data.y.p, 2, &n,
                                                   perf, nullptr, 0),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(n, 2);
  // No workspace: only the workspace-free algorithm succeeds; the others report
  // CUDNN_STATUS_ALLOC_FAILED with the memory they would need.
  ASSERT_EQ(cudnnFindConvolutionForwardAlgorithmEx(h.h, d.x, data.x.p, d.w, data.w.p, d.conv, d.y, data.y.p,
                                                   CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf, nullptr, 0),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(perf[0].status, CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(perf[0].memory, 0u);
  int alloc_failed = 0;
  for (int i = 0; i < n; ++i) {
    if (perf[i].status == CUDNN_STATUS_ALLOC_FAILED) {
      ++alloc_failed;
      EXPECT_GT(perf[i].memory, 0u);
      size_t need = 0;
      ASSERT_EQ(cudnnGetConvolutionForwardWorkspaceSize(h.h, d.x, d.w, d.conv, d.y, perf[i].algo, &need),
                CUDNN_STATUS_SUCCESS);
      EXPECT_EQ(need, perf[i].memory);  // honest about memory
    }
  }
  EXPECT_GE(alloc_failed, 2);
}

TEST(CudaSimFakeCudnnFind, WritesTheOutputBufferAndTheWorkspace) {
  CudnnHandle h;
  const ConvCase& cc = kCases[0];
  ConvDescs d(cc, CUDNN_DATA_FLOAT, CUDNN_FMA_MATH);
  std::mt19937 rng(91);
  ConvData<float> data(cc, rng);
  DeviceArray<char> ws(size_t{16} << 20);
  std::memset(ws.p, 0, ws.n);
  data.y.fill(12345.0f);
  cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int n = 0;
  ASSERT_EQ(cudnnFindConvolutionForwardAlgorithmEx(h.h, d.x, data.x.p, d.w, data.w.p, d.conv, d.y, data.y.p,
                                                   CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf, ws.p, ws.n),
            CUDNN_STATUS_SUCCESS);
  // Find ran the convolution into y: it now holds conv(x, w), not what the caller left there.
  std::vector<long double> acc, mag;
  ref_forward(data, data.x.copy(), data.w.copy(), false, &acc, &mag);
  for (long long i : elements(data.ys, cc.n, cc.k, cc.oh(), cc.ow()))
    expect_close<float>(data.y[i], acc[i], mag[i], "Find's y");
  EXPECT_NE(ws.p[0], 0);  // and used its workspace
}

TEST(CudaSimFakeCudnnFind, MisalignedBuffersRuleOutTheFastestAlgorithm) {
  CudnnHandle h;
  const ConvCase& cc = kCases[0];
  ConvDescs d(cc, CUDNN_DATA_FLOAT, CUDNN_FMA_MATH);
  std::mt19937 rng(101);
  ConvData<float> data(cc, rng);
  // x one float into a larger allocation: 4-byte aligned, not 16.
  DeviceArray<float> shifted(data.x.n + 1);
  float* x = shifted.p + 1;
  std::copy(data.x.p, data.x.p + data.x.n, x);
  DeviceArray<char> ws(size_t{16} << 20);
  cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int n = 0;
  ASSERT_EQ(cudnnFindConvolutionForwardAlgorithmEx(h.h, d.x, data.x.p, d.w, data.w.p, d.conv, d.y, data.y.p,
                                                   CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf, ws.p, ws.n),
            CUDNN_STATUS_SUCCESS);
  const cudnnConvolutionFwdAlgo_t fastest = perf[0].algo;
  ASSERT_EQ(cudnnFindConvolutionForwardAlgorithmEx(h.h, d.x, x, d.w, data.w.p, d.conv, d.y, data.y.p,
                                                   CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf, ws.p, ws.n),
            CUDNN_STATUS_SUCCESS);
  EXPECT_NE(perf[0].algo, fastest);
  bool reported = false;
  for (int i = 0; i < n; ++i)
    if (perf[i].algo == fastest) {
      reported = true;
      EXPECT_EQ(perf[i].status, CUDNN_STATUS_NOT_SUPPORTED);
    }
  EXPECT_TRUE(reported);
  // Chosen on aligned buffers, run on misaligned ones: the execution refuses.
  const float one = 1, zero = 0;
  size_t need = 0;
  ASSERT_EQ(cudnnGetConvolutionForwardWorkspaceSize(h.h, d.x, d.w, d.conv, d.y, fastest, &need), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(
      cudnnConvolutionForward(h.h, &one, d.x, x, d.w, data.w.p, d.conv, fastest, ws.p, need, &zero, d.y, data.y.p),
      CUDNN_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(
      cudnnConvolutionForward(h.h, &one, d.x, x, d.w, data.w.p, d.conv, perf[0].algo, ws.p, ws.n, &zero, d.y, data.y.p),
      CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnConvolutionForward(h.h, &one, d.x, data.x.p, d.w, data.w.p, d.conv, fastest, ws.p, need, &zero, d.y,
                                    data.y.p),
            CUDNN_STATUS_SUCCESS);
}

TEST(CudaSimFakeCudnnFind, StridedConvolutionRulesOutFftStyleAlgorithms) {
  CudnnHandle h;
  const ConvCase& cc = kCases[1];  // stride 2
  ConvDescs d(cc, CUDNN_DATA_FLOAT, CUDNN_FMA_MATH);
  size_t need = 0;
  EXPECT_EQ(
      cudnnGetConvolutionForwardWorkspaceSize(h.h, d.x, d.w, d.conv, d.y, CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING, &need),
      CUDNN_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(cudnnGetConvolutionBackwardDataWorkspaceSize(h.h, d.w, d.y, d.conv, d.x,
                                                         CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING, &need),
            CUDNN_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(cudnnGetConvolutionBackwardFilterWorkspaceSize(h.h, d.x, d.y, d.conv, d.w,
                                                           CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT, &need),
            CUDNN_STATUS_NOT_SUPPORTED);
}

// ---- cuDNN: argument checks, one documented error per test
// ---------------------------------------------------------------

// A valid forward convolution the checks below break one argument of.
struct CudnnArgsFixture : ::testing::Test {
  CudnnHandle h;
  ConvCase cc = kCases[0];
  std::mt19937 rng{111};
  ConvDescs d{cc, CUDNN_DATA_FLOAT, CUDNN_FMA_MATH};
  ConvData<float> data{cc, rng};
  DeviceArray<char> ws{size_t{16} << 20};
  float one = 1, zero = 0;
  cudnnStatus_t forward(cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM,
                        const void* x = nullptr, size_t ws_bytes = size_t{16} << 20, void* workspace = nullptr) {
    return cudnnConvolutionForward(h.h, &one, d.x, x ? x : data.x.p, d.w, data.w.p, d.conv, algo,
                                   workspace ? workspace : ws.p, ws_bytes, &zero, d.y, data.y.p);
  }
};
using CudaSimFakeCudnnArgs = CudnnArgsFixture;

TEST_F(CudaSimFakeCudnnArgs, ValidCallSucceeds) {
  EXPECT_EQ(forward(), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnSimExecutions(h.h), 1);
}

TEST_F(CudaSimFakeCudnnArgs, NullHandleIsBadParam) {
  EXPECT_EQ(cudnnConvolutionForward(nullptr, &one, d.x, data.x.p, d.w, data.w.p, d.conv,
                                    CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, nullptr, 0, &zero, d.y, data.y.p),
            CUDNN_STATUS_BAD_PARAM);
}

TEST_F(CudaSimFakeCudnnArgs, NullDataOrScalingPointerIsBadParam) {
  const auto algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  EXPECT_EQ(
      cudnnConvolutionForward(h.h, &one, d.x, nullptr, d.w, data.w.p, d.conv, algo, nullptr, 0, &zero, d.y, data.y.p),
      CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(
      cudnnConvolutionForward(h.h, &one, d.x, data.x.p, d.w, nullptr, d.conv, algo, nullptr, 0, &zero, d.y, data.y.p),
      CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(
      cudnnConvolutionForward(h.h, &one, d.x, data.x.p, d.w, data.w.p, d.conv, algo, nullptr, 0, &zero, d.y, nullptr),
      CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnConvolutionForward(h.h, nullptr, d.x, data.x.p, d.w, data.w.p, d.conv, algo, nullptr, 0, &zero, d.y,
                                    data.y.p),
            CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnConvolutionForward(h.h, &one, d.x, data.x.p, d.w, data.w.p, d.conv, algo, nullptr, 0, nullptr, d.y,
                                    data.y.p),
            CUDNN_STATUS_BAD_PARAM);
}

TEST_F(CudaSimFakeCudnnArgs, NullOrUnsetOrDestroyedDescriptorIsBadParam) {
  const auto algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  EXPECT_EQ(cudnnConvolutionForward(h.h, &one, nullptr, data.x.p, d.w, data.w.p, d.conv, algo, nullptr, 0, &zero, d.y,
                                    data.y.p),
            CUDNN_STATUS_BAD_PARAM);
  cudnnTensorDescriptor_t unset = nullptr;
  ASSERT_EQ(cudnnCreateTensorDescriptor(&unset), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnConvolutionForward(h.h, &one, unset, data.x.p, d.w, data.w.p, d.conv, algo, nullptr, 0, &zero, d.y,
                                    data.y.p),
            CUDNN_STATUS_BAD_PARAM);
  ASSERT_EQ(cudnnDestroyTensorDescriptor(unset), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnConvolutionForward(h.h, &one, unset, data.x.p, d.w, data.w.p, d.conv, algo, nullptr, 0, &zero, d.y,
                                    data.y.p),
            CUDNN_STATUS_BAD_PARAM);
}

TEST_F(CudaSimFakeCudnnArgs, OutputDimsOtherThanTheConvolutionsAreBadParam) {
  ASSERT_EQ(cudnnSetTensor4dDescriptor(d.y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, cc.n, cc.k, cc.oh() - 1, cc.ow()),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(forward(), CUDNN_STATUS_BAD_PARAM);
  ASSERT_EQ(cudnnSetTensor4dDescriptor(d.y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, cc.n, cc.k + 1, cc.oh(), cc.ow()),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(forward(), CUDNN_STATUS_BAD_PARAM);
  ASSERT_EQ(cudnnSetTensor4dDescriptor(d.y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, cc.n - 1, cc.k, cc.oh(), cc.ow()),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(forward(), CUDNN_STATUS_BAD_PARAM);
}

TEST_F(CudaSimFakeCudnnArgs, InputAndFilterChannelsThatDisagreeAreBadParam) {
  ASSERT_EQ(cudnnSetFilter4dDescriptor(d.w, CUDNN_DATA_FLOAT, cc.filter_format, cc.k, cc.c - 1, cc.r, cc.s),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(forward(), CUDNN_STATUS_BAD_PARAM);
}

TEST_F(CudaSimFakeCudnnArgs, DataTypesThatDifferAreBadParam) {
  ASSERT_EQ(cudnnSetFilter4dDescriptor(d.w, CUDNN_DATA_DOUBLE, cc.filter_format, cc.k, cc.c, cc.r, cc.s),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(forward(), CUDNN_STATUS_BAD_PARAM);
}

TEST_F(CudaSimFakeCudnnArgs, ComputeTypeIllegalForTheDataIsBadParam) {
  ASSERT_EQ(cudnnSetConvolution2dDescriptor(d.conv, cc.pad_h, cc.pad_w, cc.stride_h, cc.stride_w, cc.dil_h, cc.dil_w,
                                            cc.mode, CUDNN_DATA_DOUBLE),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(forward(), CUDNN_STATUS_BAD_PARAM);
}

TEST_F(CudaSimFakeCudnnArgs, AlgorithmOutsideItsEnumIsBadParam) {
  EXPECT_EQ(forward(static_cast<cudnnConvolutionFwdAlgo_t>(-1)), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(forward(CUDNN_CONVOLUTION_FWD_ALGO_COUNT), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnConvolutionBackwardData(h.h, &one, d.w, data.w.p, d.y, data.y.p, d.conv,
                                         CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, ws.p, ws.n, &zero, d.x, data.x.p),
            CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnConvolutionBackwardFilter(h.h, &one, d.x, data.x.p, d.y, data.y.p, d.conv,
                                           CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, ws.p, ws.n, &zero, d.w, data.w.p),
            CUDNN_STATUS_BAD_PARAM);
}

TEST_F(CudaSimFakeCudnnArgs, UnimplementedAlgorithmIsNotSupported) {
  EXPECT_EQ(forward(CUDNN_CONVOLUTION_FWD_ALGO_DIRECT), CUDNN_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(forward(CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD), CUDNN_STATUS_NOT_SUPPORTED);  // not in the fake's table
}

TEST_F(CudaSimFakeCudnnArgs, InsufficientWorkspaceIsBadParam) {
  size_t need = 0;
  ASSERT_EQ(cudnnGetConvolutionForwardWorkspaceSize(h.h, d.x, d.w, d.conv, d.y, CUDNN_CONVOLUTION_FWD_ALGO_GEMM, &need),
            CUDNN_STATUS_SUCCESS);
  ASSERT_GT(need, 0u);
  EXPECT_EQ(forward(CUDNN_CONVOLUTION_FWD_ALGO_GEMM, nullptr, need - 1), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(forward(CUDNN_CONVOLUTION_FWD_ALGO_GEMM, nullptr, need), CUDNN_STATUS_SUCCESS);
  // The execution writes all of it: a workspace shared with live data would be clobbered.
  for (size_t i = 0; i < need; i += 97) EXPECT_EQ(static_cast<unsigned char>(ws.p[i]), 0xa5u);
}

TEST_F(CudaSimFakeCudnnArgs, WorkspaceThatIsNotDeviceMemoryIsBadParam) {
  std::vector<char> host(1 << 20);
  EXPECT_EQ(forward(CUDNN_CONVOLUTION_FWD_ALGO_GEMM, nullptr, host.size(), host.data()), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(forward(CUDNN_CONVOLUTION_FWD_ALGO_GEMM, nullptr, ws.n + 1),
            CUDNN_STATUS_BAD_PARAM);  // beyond its allocation
  EXPECT_EQ(cudnnConvolutionForward(h.h, &one, d.x, data.x.p, d.w, data.w.p, d.conv, CUDNN_CONVOLUTION_FWD_ALGO_GEMM,
                                    nullptr, 4096, &zero, d.y, data.y.p),
            CUDNN_STATUS_BAD_PARAM);  // null with a size
}

TEST_F(CudaSimFakeCudnnArgs, DataThatIsNotDeviceMemoryIsBadParam) {
  std::vector<float> host(data.x.n);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(forward(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, host.data()), CUDNN_STATUS_BAD_PARAM);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("cudnnConvolutionForward: x = "), std::string::npos) << err;
  // Inside device memory but running past the allocation's end.
  EXPECT_EQ(forward(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, data.x.p + 4), CUDNN_STATUS_BAD_PARAM);
}

TEST_F(CudaSimFakeCudnnArgs, GroupedConvolutionIsNotSupported) {
  ASSERT_EQ(cudnnSetConvolutionGroupCount(d.conv, 3), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnSetFilter4dDescriptor(d.w, CUDNN_DATA_FLOAT, cc.filter_format, cc.k + 2, 1, cc.r, cc.s),
            CUDNN_STATUS_SUCCESS);
  int n, c, hh, ww;
  EXPECT_EQ(cudnnGetConvolution2dForwardOutputDim(d.conv, d.x, d.w, &n, &c, &hh, &ww), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(forward(), CUDNN_STATUS_NOT_SUPPORTED);
  cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  EXPECT_EQ(cudnnFindConvolutionForwardAlgorithmEx(h.h, d.x, data.x.p, d.w, data.w.p, d.conv, d.y, data.y.p, 8, &n,
                                                   perf, ws.p, ws.n),
            CUDNN_STATUS_NOT_SUPPORTED);
}

TEST_F(CudaSimFakeCudnnArgs, HalfPrecisionDataIsNotSupported) {
  ConvDescs half(cc, CUDNN_DATA_HALF, CUDNN_DEFAULT_MATH);
  EXPECT_EQ(cudnnSetConvolution2dDescriptor(half.conv, cc.pad_h, cc.pad_w, cc.stride_h, cc.stride_w, cc.dil_h, cc.dil_w,
                                            cc.mode, CUDNN_DATA_FLOAT),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnConvolutionForward(h.h, &one, half.x, data.x.p, half.w, data.w.p, half.conv,
                                    CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, nullptr, 0, &zero, half.y, data.y.p),
            CUDNN_STATUS_NOT_SUPPORTED);
}

TEST_F(CudaSimFakeCudnnArgs, FindArgumentChecks) {
  cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int n = 0;
  EXPECT_EQ(cudnnFindConvolutionForwardAlgorithmEx(h.h, d.x, data.x.p, d.w, data.w.p, d.conv, d.y, data.y.p, 0, &n,
                                                   perf, ws.p, ws.n),
            CUDNN_STATUS_BAD_PARAM);  // requestedAlgoCount <= 0
  EXPECT_EQ(cudnnFindConvolutionForwardAlgorithmEx(h.h, d.x, data.x.p, d.w, data.w.p, d.conv, d.y, data.y.p, 8, nullptr,
                                                   perf, ws.p, ws.n),
            CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnFindConvolutionForwardAlgorithmEx(h.h, d.x, data.x.p, d.w, data.w.p, d.conv, d.y, data.y.p, 8, &n,
                                                   nullptr, ws.p, ws.n),
            CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnFindConvolutionForwardAlgorithmEx(h.h, d.x, data.x.p, d.w, data.w.p, d.conv, d.y, nullptr, 8, &n, perf,
                                                   ws.p, ws.n),
            CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnFindConvolutionForwardAlgorithmEx(h.h, d.x, data.x.p, d.w, data.w.p, d.conv, d.y, data.y.p, 8, &n,
                                                   perf, ws.p, ws.n + 1),
            CUDNN_STATUS_BAD_PARAM);  // workspace beyond its allocation
  EXPECT_EQ(
      cudnnGetConvolutionForwardWorkspaceSize(h.h, d.x, d.w, d.conv, d.y, CUDNN_CONVOLUTION_FWD_ALGO_GEMM, nullptr),
      CUDNN_STATUS_BAD_PARAM);
  size_t need = 0;
  EXPECT_EQ(cudnnGetConvolutionForwardWorkspaceSize(h.h, d.x, d.w, d.conv, d.y,
                                                    static_cast<cudnnConvolutionFwdAlgo_t>(9), &need),
            CUDNN_STATUS_BAD_PARAM);
}

// ---- cuDNN: cudnnAddTensor
// ---------------------------------------------------------------------------------------------

TEST(CudaSimFakeCudnnAddTensor, BroadcastsOverDimensionsOfSizeOne) {
  CudnnHandle h;
  cudnnTensorDescriptor_t a = nullptr, c = nullptr;
  ASSERT_EQ(cudnnCreateTensorDescriptor(&a), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnCreateTensorDescriptor(&c), CUDNN_STATUS_SUCCESS);
  std::mt19937 rng(121);
  const int N = 2, C = 3, H = 4, W = 5;
  struct Shape {
    int n, c, h, w;
  };
  for (Shape s : {Shape{1, C, 1, 1}, Shape{N, 1, H, 1}, Shape{1, 1, 1, W}, Shape{N, C, H, W}})
    for (double beta : {0.0, 1.0, -0.5}) {
      ASSERT_EQ(cudnnSetTensor4dDescriptor(a, CUDNN_TENSOR_NCHW, CUDNN_DATA_DOUBLE, s.n, s.c, s.h, s.w),
                CUDNN_STATUS_SUCCESS);
      ASSERT_EQ(cudnnSetTensor4dDescriptor(c, CUDNN_TENSOR_NHWC, CUDNN_DATA_DOUBLE, N, C, H, W), CUDNN_STATUS_SUCCESS);
      DeviceArray<double> av(s.n * s.c * s.h * s.w), cv(N * C * H * W);
      av.random(rng), cv.random(rng);
      if (beta == 0) cv.fill(std::numeric_limits<double>::quiet_NaN());
      const std::vector<double> before = cv.copy();
      const double alpha = 1.5;
      ASSERT_EQ(cudnnAddTensor(h.h, &alpha, a, av.p, &beta, c, cv.p), CUDNN_STATUS_SUCCESS);
      for (int n = 0; n < N; ++n)
        for (int ch = 0; ch < C; ++ch)
          for (int y = 0; y < H; ++y)
            for (int x = 0; x < W; ++x) {
              const int ai = (((s.n == 1 ? 0 : n) * s.c + (s.c == 1 ? 0 : ch)) * s.h + (s.h == 1 ? 0 : y)) * s.w +
                             (s.w == 1 ? 0 : x);
              const int ci = ((n * H + y) * W + x) * C + ch;  // NHWC
              const double want = alpha * av[ai] + (beta == 0 ? 0.0 : beta * before[ci]);
              EXPECT_DOUBLE_EQ(cv[ci], want);
            }
    }
  EXPECT_EQ(cudnnDestroyTensorDescriptor(a), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnDestroyTensorDescriptor(c), CUDNN_STATUS_SUCCESS);
}

TEST(CudaSimFakeCudnnAddTensor, ArgumentChecks) {
  CudnnHandle h;
  cudnnTensorDescriptor_t a = nullptr, c = nullptr;
  ASSERT_EQ(cudnnCreateTensorDescriptor(&a), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnCreateTensorDescriptor(&c), CUDNN_STATUS_SUCCESS);
  DeviceArray<float> av(24), cv(24);
  const float one = 1;
  ASSERT_EQ(cudnnSetTensor4dDescriptor(c, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 2, 3, 2, 2), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnSetTensor4dDescriptor(a, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, 2, 1, 1), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnAddTensor(h.h, &one, a, av.p, &one, c, cv.p), CUDNN_STATUS_BAD_PARAM);  // 2 neither 3 nor 1
  ASSERT_EQ(cudnnSetTensor4dDescriptor(a, CUDNN_TENSOR_NCHW, CUDNN_DATA_DOUBLE, 1, 3, 1, 1), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnAddTensor(h.h, &one, a, av.p, &one, c, cv.p), CUDNN_STATUS_BAD_PARAM);  // types differ
  ASSERT_EQ(cudnnSetTensor4dDescriptor(a, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, 3, 1, 1), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnAddTensor(h.h, &one, a, nullptr, &one, c, cv.p), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnAddTensor(h.h, &one, a, av.p, nullptr, c, cv.p), CUDNN_STATUS_BAD_PARAM);
  std::vector<float> host(24);
  EXPECT_EQ(cudnnAddTensor(h.h, &one, a, av.p, &one, c, host.data()), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnAddTensor(nullptr, &one, a, av.p, &one, c, cv.p), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnAddTensor(h.h, &one, a, av.p, &one, c, cv.p), CUDNN_STATUS_SUCCESS);
  cudnnDestroyTensorDescriptor(a);
  cudnnDestroyTensorDescriptor(c);
}

// ---- cuDNN: the way cuda/conv_cudnn.cu uses it
// ------------------------------------------------------------------------

// conv_cudnn.cu's forward: descriptors, Find on the call's own buffers, the first SUCCESS result
// within the workspace limit (and with exact f32, FMA math only), math type set to the choice,
// execution with beta = 0, then the bias through cudnnAddTensor. Exact f32 and TF32.
TEST(CudaSimFakeCudnnCallLog, ForwardAsConvCudnnMakesIt) {
  for (bool tf32 : {false, true}) {
    CudnnHandle h;
    const cudaStream_t stream = reinterpret_cast<cudaStream_t>(0x77);
    ASSERT_EQ(cudnnSetStream(h.h, stream), CUDNN_STATUS_SUCCESS);
    const ConvCase& cc = kCases[0];
    ConvDescs d(cc, CUDNN_DATA_FLOAT, tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH);
    cudnnTensorDescriptor_t bias_desc = nullptr;
    ASSERT_EQ(cudnnCreateTensorDescriptor(&bias_desc), CUDNN_STATUS_SUCCESS);
    ASSERT_EQ(cudnnSetTensor4dDescriptor(bias_desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, cc.k, 1, 1),
              CUDNN_STATUS_SUCCESS);
    std::mt19937 rng(131);
    ConvData<float> data(cc, rng);
    DeviceArray<float> bias(cc.k);
    bias.random(rng);
    const size_t limit = size_t{8} << 20;
    DeviceArray<char> find_ws(limit);
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int n = 0;
    ASSERT_EQ(cudnnFindConvolutionForwardAlgorithmEx(h.h, d.x, data.x.p, d.w, data.w.p, d.conv, d.y, data.y.p,
                                                     CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf, find_ws.p, limit),
              CUDNN_STATUS_SUCCESS);
    int pick = -1;
    for (int i = 0; i < n && pick < 0; ++i)
      if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= limit &&
          (tf32 || perf[i].mathType == CUDNN_FMA_MATH))
        pick = i;
    ASSERT_GE(pick, 0);
    ASSERT_EQ(cudnnSetConvolutionMathType(d.conv, tf32 ? perf[pick].mathType : CUDNN_FMA_MATH), CUDNN_STATUS_SUCCESS);
    DeviceArray<char> ws(std::max<size_t>(perf[pick].memory, 1));
    data.y.fill(std::numeric_limits<float>::quiet_NaN());
    const float one = 1, zero = 0;
    ASSERT_EQ(cudnnConvolutionForward(h.h, &one, d.x, data.x.p, d.w, data.w.p, d.conv, perf[pick].algo, ws.p,
                                      perf[pick].memory, &zero, d.y, data.y.p),
              CUDNN_STATUS_SUCCESS);
    ASSERT_EQ(cudnnAddTensor(h.h, &one, bias_desc, bias.p, &one, d.y, data.y.p), CUDNN_STATUS_SUCCESS);
    std::vector<long double> acc, mag;
    ref_forward(data, data.x.copy(), data.w.copy(), tf32, &acc, &mag);
    for (int img = 0; img < cc.n; ++img)
      for (int k = 0; k < cc.k; ++k)
        for (int oh = 0; oh < cc.oh(); ++oh)
          for (int ow = 0; ow < cc.ow(); ++ow) {
            const long long i = data.yi(img, k, oh, ow);
            // Two roundings: the convolution's, then the bias add's.
            const float conv = static_cast<float>(acc[i]);
            expect_close<float>(data.y[i], static_cast<long double>(conv) + bias[k], mag[i] + std::fabs(bias[k]),
                                "y+bias");
          }
    const std::vector<CudnnSimCall> log = cudnnSimCallLog(h.h);
    ASSERT_EQ(log.size(), 3u);
    EXPECT_EQ(log[0].op, CudnnSimOp::find_forward);
    EXPECT_EQ(log[1].op, CudnnSimOp::forward);
    EXPECT_EQ(log[1].algo, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM);
    EXPECT_EQ(log[1].tf32, tf32);
    EXPECT_EQ(log[1].math, tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH);
    EXPECT_EQ(log[1].stream, stream);
    EXPECT_EQ(log[2].op, CudnnSimOp::add_tensor);
    EXPECT_EQ(cudnnSimExecutions(h.h), 1);
    // The process-wide log has the same entries, naming the handle.
    const std::vector<CudnnSimCall> all = cudnnSimCallLogAll();
    ASSERT_GE(all.size(), 3u);
    EXPECT_EQ(all.back().handle, h.h);
    EXPECT_EQ(all.back().op, CudnnSimOp::add_tensor);
    EXPECT_EQ(all[all.size() - 2].algo, log[1].algo);
    cudnnSimClearCallLogAll();
    EXPECT_TRUE(cudnnSimCallLogAll().empty());
    EXPECT_EQ(cudnnSimCallLog(h.h).size(), 3u);
    cudnnSimClearCallLog(h.h);
    EXPECT_TRUE(cudnnSimCallLog(h.h).empty());
    cudnnDestroyTensorDescriptor(bias_desc);
  }
}

TEST(CudaSimFakeCudnnCallLog, FailedCallsAreLoggedWithTheirStatus) {
  CudnnHandle h;
  const ConvCase& cc = kCases[0];
  ConvDescs d(cc, CUDNN_DATA_FLOAT, CUDNN_FMA_MATH);
  std::mt19937 rng(141);
  ConvData<float> data(cc, rng);
  const float one = 1, zero = 0;
  EXPECT_EQ(cudnnConvolutionForward(h.h, &one, d.x, data.x.p, d.w, data.w.p, d.conv, CUDNN_CONVOLUTION_FWD_ALGO_DIRECT,
                                    nullptr, 0, &zero, d.y, data.y.p),
            CUDNN_STATUS_NOT_SUPPORTED);
  const std::vector<CudnnSimCall> log = cudnnSimCallLog(h.h);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].status, CUDNN_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(log[0].algo, CUDNN_CONVOLUTION_FWD_ALGO_DIRECT);
  EXPECT_EQ(cudnnSimExecutions(h.h), 0);
}

}  // namespace
