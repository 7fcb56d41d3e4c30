// CUDA simulation build: the fake cuBLAS (what it models and what not: include/cublas_v2.h).
//
// Every GEMM entry point checks the handle, then sizes and leading dimensions, then types (with the
// statuses cuBLAS documents for each), then that the memory it will touch is device memory, then
// computes naively on the host: each C element is one double accumulation, rounded once.
#include <cublas_v2.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <type_traits>

#include "fake_tf32.h"

struct cublasContext {
  cudaStream_t stream = nullptr;
  cublasMath_t math = CUBLAS_DEFAULT_MATH;
  // cublasSetWorkspace sets it, cublasSetStream clears it (documented: back to the default pool).
  bool user_workspace = false;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  long long gemm_calls = 0;
  bool last_gemm_user_workspace = false;
  bool last_gemm_tf32 = false;
};

namespace {

// Live handles, so that a destroyed or invented handle is reported instead of dereferenced.
std::mutex g_mu;
std::set<cublasContext*>& live_handles() {
  static auto* s = new std::set<cublasContext*>();
  return *s;
}
// Process-wide record of successful GEMMs (under g_mu).
CublasSimGemm g_last_gemm{};
long long g_gemm_calls_all = 0;

// Runs f(ctx) under the lock when `h` is live; otherwise CUBLAS_STATUS_NOT_INITIALIZED.
template <class F>
cublasStatus_t with_handle(cublasHandle_t h, F&& f) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!h || !live_handles().count(h)) return CUBLAS_STATUS_NOT_INITIALIZED;
  return f(*h);
}

cublasStatus_t fail(cublasStatus_t st, const char* api, const std::string& why) {
  std::fprintf(stderr, "fake cuBLAS: %s: %s\n", api, why.c_str());
  return st;
}

using cuda_sim::round_to_tf32;
using cuda_sim::tf32_allowed_by_environment;

enum class Elem { f32, f64 };
size_t elem_size(Elem e) {
  return e == Elem::f32 ? 4 : 8;
}

// One GEMM call after its arguments passed the documented checks.
struct Gemm {
  const char* api;
  bool trans_a, trans_b;  // CUBLAS_OP_T and CUBLAS_OP_C are the same on real data
  int m, n, k;
  Elem elem;
  bool tf32;
  double alpha, beta;
  const void* a;
  long long lda, stride_a;
  const void* b;
  long long ldb, stride_b;
  void* c;
  long long ldc, stride_c;
  int batch;
};

bool valid_op(cublasOperation_t op) {
  return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C;
}

// The documented INVALID_VALUE checks shared by every GEMM entry point.
cublasStatus_t check_shape(const char* api, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, int lda,
                           int ldb, int ldc, int batch, const void* alpha, const void* beta) {
  auto bad = [&](const std::string& why) { return fail(CUBLAS_STATUS_INVALID_VALUE, api, why); };
  if (!valid_op(ta) || !valid_op(tb)) return bad("transa/transb is not CUBLAS_OP_N, CUBLAS_OP_T or CUBLAS_OP_C");
  if (m < 0 || n < 0 || k < 0 || batch < 0)
    return bad(std::string("negative size (m ") + std::to_string(m) + ", n " + std::to_string(n) + ", k " + std::to_string(k) +
               std::string(", batchCount ") + std::to_string(batch) + ")");
  const int a_rows = ta == CUBLAS_OP_N ? m : k, b_rows = tb == CUBLAS_OP_N ? k : n;
  if (lda < std::max(1, a_rows)) return bad(std::string("lda ") + std::to_string(lda) + " < max(1, " + std::to_string(a_rows) + ")");
  if (ldb < std::max(1, b_rows)) return bad(std::string("ldb ") + std::to_string(ldb) + " < max(1, " + std::to_string(b_rows) + ")");
  if (ldc < std::max(1, m)) return bad(std::string("ldc ") + std::to_string(ldc) + " < max(1, " + std::to_string(m) + ")");
  if (!alpha || !beta) return bad("alpha or beta is null");
  return CUBLAS_STATUS_SUCCESS;
}

// [first, last] element offsets of a rows x cols column-major matrix repeated `batch` times.
struct Extent {
  long long first, last;
};
Extent extent(long long rows, long long cols, long long ld, long long stride, long long batch) {
  const long long one = (cols - 1) * ld + (rows - 1);
  const long long step = (batch - 1) * stride;
  return {std::min(0LL, step), one + std::max(0LL, step)};
}

bool check_operand(const Gemm& g, const char* name, const void* p, long long rows, long long cols, long long ld,
                   long long stride) {
  const Extent e = extent(rows, cols, ld, stride, g.batch);
  const long long es = static_cast<long long>(elem_size(g.elem));
  // Integer arithmetic: a negative stride puts the first element before p.
  const auto first = reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(p) + e.first * es);
  if (p && cuda_sim::device_range(first, static_cast<size_t>((e.last - e.first + 1) * es))) return true;
  char buf[400];
  std::snprintf(buf, sizeof buf,
                "%s = %p is not device memory covering the %lld elements the call touches (%lld x %lld, ld %lld, "
                "stride %lld, batchCount %d; element offsets %lld..%lld)",
                name, p, e.last - e.first + 1, rows, cols, ld, stride, g.batch, e.first, e.last);
  fail(CUBLAS_STATUS_INVALID_VALUE, g.api, buf);
  return false;
}

// True when two batches' C matrices share an element. With d = |b2 - b1| * strideC = q*ldc + r
// (0 <= r < ldc), an element (i, j) of one equals (i', j') of the other only if i - i' = r and
// j - j' = q, or i - i' = r - ldc and j - j' = q + 1 (ldc >= m rules out every other case).
bool batches_overlap(const Gemm& g) {
  const long long step = std::llabs(g.stride_c);
  for (long long t = 1; t < g.batch; ++t) {
    const long long d = t * step, q = d / g.ldc, r = d % g.ldc;
    if (q >= g.n) break;  // farther apart than a whole matrix, and only farther from here on
    if ((r < g.m && q <= g.n - 1) || (g.ldc - r < g.m && q + 1 <= g.n - 1)) return true;
  }
  return false;
}

template <class T>
double load(const void* p, long long i, bool tf32) {
  const T v = static_cast<const T*>(p)[i];
  if constexpr (std::is_same_v<T, float>) return tf32 ? round_to_tf32(v) : v;
  return v;
}

template <class T>
void compute(const Gemm& g) {
  const bool products = g.alpha != 0.0 && g.k > 0;  // reference BLAS: otherwise A and B are not read
  T* c = static_cast<T*>(g.c);
  for (int bi = 0; bi < g.batch; ++bi) {
    const long long oa = bi * g.stride_a, ob = bi * g.stride_b, oc = bi * g.stride_c;
    for (int j = 0; j < g.n; ++j)
      for (int i = 0; i < g.m; ++i) {
        double sum = 0.0;
        if (products)
          for (int l = 0; l < g.k; ++l) {
            const long long ia = oa + (g.trans_a ? i * g.lda + l : l * g.lda + i);
            const long long ib = ob + (g.trans_b ? l * g.ldb + j : j * g.ldb + l);
            sum += load<T>(g.a, ia, g.tf32) * load<T>(g.b, ib, g.tf32);
          }
        T& out = c[oc + j * g.ldc + i];
        const double scaled = products ? g.alpha * sum : 0.0;
        out = static_cast<T>(g.beta == 0.0 ? scaled : scaled + g.beta * static_cast<double>(out));
      }
  }
}

// Pointer checks, the computation and the handle's record of it.
cublasStatus_t run(cublasHandle_t h, const Gemm& g) {
  bool user_workspace = false;
  const void* workspace = nullptr;
  size_t workspace_bytes = 0;
  const cublasStatus_t st = with_handle(h, [&](cublasContext& ctx) {
    user_workspace = ctx.user_workspace, workspace = ctx.workspace, workspace_bytes = ctx.workspace_bytes;
    return CUBLAS_STATUS_SUCCESS;
  });
  if (st != CUBLAS_STATUS_SUCCESS) return st;
  // The handle keeps using the buffer cublasSetWorkspace gave it: freeing it first is a bug that a
  // GPU would only show as corrupted memory (real cuBLAS does not check this).
  if (user_workspace && !cuda_sim::device_range(workspace, workspace_bytes)) {
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "the workspace set with cublasSetWorkspace (%p, %zu bytes) is no longer device memory", workspace,
                  workspace_bytes);
    return fail(CUBLAS_STATUS_INVALID_VALUE, g.api, buf);
  }
  if (g.m > 0 && g.n > 0 && g.batch > 0) {
    const bool reads_ab = g.alpha != 0.0 && g.k > 0;
    if (reads_ab) {
      if (!check_operand(g, "A", g.a, g.trans_a ? g.k : g.m, g.trans_a ? g.m : g.k, g.lda, g.stride_a))
        return CUBLAS_STATUS_INVALID_VALUE;
      if (!check_operand(g, "B", g.b, g.trans_b ? g.n : g.k, g.trans_b ? g.k : g.n, g.ldb, g.stride_b))
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (!check_operand(g, "C", g.c, g.m, g.n, g.ldc, g.stride_c)) return CUBLAS_STATUS_INVALID_VALUE;
    if (batches_overlap(g))
      return fail(CUBLAS_STATUS_INVALID_VALUE, g.api,
                  std::string("strideC ") + std::to_string(g.stride_c) + " makes the C matrices of different batches overlap (m " +
                      std::to_string(g.m) + ", n " + std::to_string(g.n) + ", ldc " + std::to_string(g.ldc) +
                      "); on a GPU their writes would race (real cuBLAS does not check this)");
    if (g.elem == Elem::f32)
      compute<float>(g);
    else
      compute<double>(g);
  }
  return with_handle(h, [&](cublasContext& ctx) {
    ++ctx.gemm_calls;
    ctx.last_gemm_user_workspace = user_workspace;
    ctx.last_gemm_tf32 = g.tf32;
    ++g_gemm_calls_all;
    g_last_gemm = CublasSimGemm{h, ctx.stream, user_workspace, g.tf32};
    return CUBLAS_STATUS_SUCCESS;
  });
}

bool handle_tf32_math(cublasHandle_t h) {
  bool tf32 = false;
  with_handle(h, [&](cublasContext& ctx) {
    tf32 = (ctx.math & 0xf) == CUBLAS_TF32_TENSOR_OP_MATH;
    return CUBLAS_STATUS_SUCCESS;
  });
  return tf32 && tf32_allowed_by_environment();
}

bool live(cublasHandle_t h) {
  return with_handle(h, [](cublasContext&) { return CUBLAS_STATUS_SUCCESS; }) == CUBLAS_STATUS_SUCCESS;
}

// The typed entry points (Sgemm, Dgemm and their strided-batched forms) share this.
template <class T>
cublasStatus_t typed_gemm(const char* api, cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                          int k, const T* alpha, const T* a, int lda, long long sa, const T* b, int ldb, long long sb,
                          const T* beta, T* c, int ldc, long long sc, int batch) {
  if (!live(h)) return CUBLAS_STATUS_NOT_INITIALIZED;
  const cublasStatus_t st = check_shape(api, ta, tb, m, n, k, lda, ldb, ldc, batch, alpha, beta);
  if (st != CUBLAS_STATUS_SUCCESS) return st;
  const bool f32 = std::is_same_v<T, float>;
  const Gemm g{.api = api,
               .trans_a = ta != CUBLAS_OP_N,
               .trans_b = tb != CUBLAS_OP_N,
               .m = m, .n = n, .k = k,
               .elem = f32 ? Elem::f32 : Elem::f64,
               .tf32 = f32 && handle_tf32_math(h),
               .alpha = static_cast<double>(*alpha), .beta = static_cast<double>(*beta),
               .a = a, .lda = lda, .stride_a = sa,
               .b = b, .ldb = ldb, .stride_b = sb,
               .c = c, .ldc = ldc, .stride_c = sc,
               .batch = batch};
  return run(h, g);
}

// The Ex entry points: which (types, compute type) pairs the fake runs, and with TF32 or not.
cublasStatus_t resolve_ex(const char* api, cublasHandle_t h, cudaDataType at, cudaDataType bt, cudaDataType ct,
                          cublasComputeType_t compute, cublasGemmAlgo_t algo, Elem* elem, bool* tf32) {
  const int a = static_cast<int>(algo);
  if (!(a == CUBLAS_GEMM_DEFAULT || (a >= CUBLAS_GEMM_ALGO0 && a <= CUBLAS_GEMM_ALGO23) ||
        (a >= CUBLAS_GEMM_DEFAULT_TENSOR_OP && a <= CUBLAS_GEMM_ALGO15_TENSOR_OP)))
    return fail(CUBLAS_STATUS_NOT_SUPPORTED, api, std::string("algo ") + std::to_string(a) + " is not a cublasGemmAlgo_t");
  if (at != bt || bt != ct)
    return fail(CUBLAS_STATUS_NOT_SUPPORTED, api, "Atype, Btype and Ctype differ (the fake supports only equal types)");
  if (at == CUDA_R_32F && (compute == CUBLAS_COMPUTE_32F || compute == CUBLAS_COMPUTE_32F_PEDANTIC ||
                           compute == CUBLAS_COMPUTE_32F_FAST_TF32)) {
    *elem = Elem::f32;
    *tf32 = tf32_allowed_by_environment() &&
            (compute == CUBLAS_COMPUTE_32F_FAST_TF32 || (compute == CUBLAS_COMPUTE_32F && handle_tf32_math(h)));
    return CUBLAS_STATUS_SUCCESS;
  }
  if (at == CUDA_R_64F && (compute == CUBLAS_COMPUTE_64F || compute == CUBLAS_COMPUTE_64F_PEDANTIC)) {
    *elem = Elem::f64;
    *tf32 = false;
    return CUBLAS_STATUS_SUCCESS;
  }
  return fail(CUBLAS_STATUS_NOT_SUPPORTED, api,
              std::string("data type ") + std::to_string(at) + " with compute type " + std::to_string(compute) +
                  " is not supported (the fake runs CUDA_R_32F with COMPUTE_32F[_PEDANTIC|_FAST_TF32] and "
                  "CUDA_R_64F with COMPUTE_64F[_PEDANTIC])");
}

cublasStatus_t ex_gemm(const char* api, cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                       int k, const void* alpha, const void* a, cudaDataType at, int lda, long long sa, const void* b,
                       cudaDataType bt, int ldb, long long sb, const void* beta, void* c, cudaDataType ct, int ldc,
                       long long sc, int batch, cublasComputeType_t compute, cublasGemmAlgo_t algo) {
  if (!live(h)) return CUBLAS_STATUS_NOT_INITIALIZED;
  cublasStatus_t st = check_shape(api, ta, tb, m, n, k, lda, ldb, ldc, batch, alpha, beta);
  if (st != CUBLAS_STATUS_SUCCESS) return st;
  Elem elem = Elem::f32;
  bool tf32 = false;
  st = resolve_ex(api, h, at, bt, ct, compute, algo, &elem, &tf32);
  if (st != CUBLAS_STATUS_SUCCESS) return st;
  // Scale type: float for the 32F compute types, double for 64F (cuBLAS's table).
  const double al = elem == Elem::f32 ? *static_cast<const float*>(alpha) : *static_cast<const double*>(alpha);
  const double be = elem == Elem::f32 ? *static_cast<const float*>(beta) : *static_cast<const double*>(beta);
  const Gemm g{.api = api,
               .trans_a = ta != CUBLAS_OP_N,
               .trans_b = tb != CUBLAS_OP_N,
               .m = m, .n = n, .k = k,
               .elem = elem,
               .tf32 = tf32,
               .alpha = al, .beta = be,
               .a = a, .lda = lda, .stride_a = sa,
               .b = b, .ldb = ldb, .stride_b = sb,
               .c = c, .ldc = ldc, .stride_c = sc,
               .batch = batch};
  return run(h, g);
}

}  // namespace

// ---- helper functions --------------------------------------------------------------------------------------

cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  if (!handle) return fail(CUBLAS_STATUS_INVALID_VALUE, "cublasCreate", "handle is null");
  auto* ctx = new cublasContext();
  std::lock_guard<std::mutex> lock(g_mu);
  live_handles().insert(ctx);
  *handle = ctx;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!handle || !live_handles().erase(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t streamId) {
  return with_handle(handle, [&](cublasContext& ctx) {
    ctx.stream = streamId;
    ctx.user_workspace = false;  // "unconditionally resets the cuBLAS library workspace"
    ctx.workspace = nullptr;
    ctx.workspace_bytes = 0;
    return CUBLAS_STATUS_SUCCESS;
  });
}

cublasStatus_t cublasGetStream(cublasHandle_t handle, cudaStream_t* streamId) {
  return with_handle(handle, [&](cublasContext& ctx) {
    if (!streamId) return fail(CUBLAS_STATUS_INVALID_VALUE, "cublasGetStream", "streamId is null");
    *streamId = ctx.stream;
    return CUBLAS_STATUS_SUCCESS;
  });
}

cublasStatus_t cublasSetWorkspace(cublasHandle_t handle, void* workspace, size_t workspaceSizeInBytes) {
  return with_handle(handle, [&](cublasContext& ctx) {
    if (reinterpret_cast<uintptr_t>(workspace) % 256 != 0)
      return fail(CUBLAS_STATUS_INVALID_VALUE, "cublasSetWorkspace", "the workspace pointer is not 256-byte aligned");
    if (!cuda_sim::device_range(workspace, workspaceSizeInBytes)) {
      char buf[200];
      std::snprintf(buf, sizeof buf, "workspace %p is not device memory covering %zu bytes", workspace,
                    workspaceSizeInBytes);
      return fail(CUBLAS_STATUS_INVALID_VALUE, "cublasSetWorkspace", buf);
    }
    ctx.user_workspace = true;
    ctx.workspace = workspace;
    ctx.workspace_bytes = workspaceSizeInBytes;
    return CUBLAS_STATUS_SUCCESS;
  });
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  return with_handle(handle, [&](cublasContext& ctx) {
    const int base = mode & ~CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION;
    if (base < CUBLAS_DEFAULT_MATH || base > CUBLAS_TF32_TENSOR_OP_MATH)
      return fail(CUBLAS_STATUS_INVALID_VALUE, "cublasSetMathMode", std::string("mode ") + std::to_string(mode) + " is not valid");
    ctx.math = mode;
    return CUBLAS_STATUS_SUCCESS;
  });
}

cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t* mode) {
  return with_handle(handle, [&](cublasContext& ctx) {
    if (!mode) return fail(CUBLAS_STATUS_INVALID_VALUE, "cublasGetMathMode", "mode is null");
    *mode = ctx.math;
    return CUBLAS_STATUS_SUCCESS;
  });
}

const char* cublasGetStatusName(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS:
      return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR:
      return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR:
      return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR:
      return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}

// The meanings cuBLAS's documentation gives each status (paraphrased; the real strings may differ).
const char* cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS:
      return "the operation completed successfully";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "the resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return "an absent device architectural feature is required";
    case CUBLAS_STATUS_MAPPING_ERROR:
      return "an access to GPU memory space failed";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "the GPU program failed to execute";
    case CUBLAS_STATUS_INTERNAL_ERROR:
      return "an internal operation failed";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "the functionality requested is not supported";
    case CUBLAS_STATUS_LICENSE_ERROR:
      return "an error was detected when checking the current licensing";
  }
  return "unknown cuBLAS status";
}

// ---- GEMM -------------------------------------------------------------------------------------------------------

cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                           int k, const float* alpha, const float* A, int lda, const float* B, int ldb,
                           const float* beta, float* C, int ldc) {
  return typed_gemm<float>("cublasSgemm", handle, transa, transb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0,
                           1);
}

cublasStatus_t cublasDgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                           int k, const double* alpha, const double* A, int lda, const double* B, int ldb,
                           const double* beta, double* C, int ldc) {
  return typed_gemm<double>("cublasDgemm", handle, transa, transb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc,
                            0, 1);
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                         int m, int n, int k, const float* alpha, const float* A, int lda,
                                         long long int strideA, const float* B, int ldb, long long int strideB,
                                         const float* beta, float* C, int ldc, long long int strideC, int batchCount) {
  return typed_gemm<float>("cublasSgemmStridedBatched", handle, transa, transb, m, n, k, alpha, A, lda, strideA, B, ldb,
                           strideB, beta, C, ldc, strideC, batchCount);
}

cublasStatus_t cublasDgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                         int m, int n, int k, const double* alpha, const double* A, int lda,
                                         long long int strideA, const double* B, int ldb, long long int strideB,
                                         const double* beta, double* C, int ldc, long long int strideC,
                                         int batchCount) {
  return typed_gemm<double>("cublasDgemmStridedBatched", handle, transa, transb, m, n, k, alpha, A, lda, strideA, B,
                            ldb, strideB, beta, C, ldc, strideC, batchCount);
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                            int k, const void* alpha, const void* A, cudaDataType Atype, int lda, const void* B,
                            cudaDataType Btype, int ldb, const void* beta, void* C, cudaDataType Ctype, int ldc,
                            cublasComputeType_t computeType, cublasGemmAlgo_t algo) {
  return ex_gemm("cublasGemmEx", handle, transa, transb, m, n, k, alpha, A, Atype, lda, 0, B, Btype, ldb, 0, beta, C,
                 Ctype, ldc, 0, 1, computeType, algo);
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                          int m, int n, int k, const void* alpha, const void* A, cudaDataType Atype,
                                          int lda, long long int strideA, const void* B, cudaDataType Btype, int ldb,
                                          long long int strideB, const void* beta, void* C, cudaDataType Ctype, int ldc,
                                          long long int strideC, int batchCount, cublasComputeType_t computeType,
                                          cublasGemmAlgo_t algo) {
  return ex_gemm("cublasGemmStridedBatchedEx", handle, transa, transb, m, n, k, alpha, A, Atype, lda, strideA, B, Btype,
                 ldb, strideB, beta, C, Ctype, ldc, strideC, batchCount, computeType, algo);
}

// ---- simulation-only queries ----------------------------------------------------------------------------------

bool cublasSimUsesUserWorkspace(cublasHandle_t handle) {
  bool r = false;
  with_handle(handle, [&](cublasContext& ctx) {
    r = ctx.user_workspace;
    return CUBLAS_STATUS_SUCCESS;
  });
  return r;
}

bool cublasSimLastGemmUsedUserWorkspace(cublasHandle_t handle) {
  bool r = false;
  with_handle(handle, [&](cublasContext& ctx) {
    r = ctx.last_gemm_user_workspace;
    return CUBLAS_STATUS_SUCCESS;
  });
  return r;
}

bool cublasSimLastGemmUsedTf32(cublasHandle_t handle) {
  bool r = false;
  with_handle(handle, [&](cublasContext& ctx) {
    r = ctx.last_gemm_tf32;
    return CUBLAS_STATUS_SUCCESS;
  });
  return r;
}

long long cublasSimGemmCalls(cublasHandle_t handle) {
  long long r = 0;
  with_handle(handle, [&](cublasContext& ctx) {
    r = ctx.gemm_calls;
    return CUBLAS_STATUS_SUCCESS;
  });
  return r;
}

CublasSimGemm cublasSimLastGemm() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_last_gemm;
}

long long cublasSimGemmCallsAll() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_gemm_calls_all;
}
