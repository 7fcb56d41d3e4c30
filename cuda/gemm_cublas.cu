// The gemm slot on CUDA: cuBLAS strided-batched GEMM for row-major operands (see GemmArgs).
//
// cuBLAS is column-major. A row-major r x c matrix with row stride ld is, read column-major, its
// c x r transpose with the same ld, so the row-major C = op(A) op(B) is computed as the
// column-major C^T = op(B)^T op(A)^T: swap the operands (and m with n), keep each trans flag.
//
// f32: cublasGemmStridedBatchedEx with CUBLAS_COMPUTE_32F (exact f32), or
// CUBLAS_COMPUTE_32F_FAST_TF32 when TF32 is switched on (cuda_config.h: SADANET_TF32=1 or
// set_tf32(true)). f64: cublasDgemmStridedBatched. One handle per device, created on first use
// with a 32 MiB workspace from sadanet's allocator (set again after every cublasSetStream, which
// resets it), kept for the life of the process (destroying it at exit could run after the CUDA
// context is gone).
#include <cublas_v2.h>

#include <algorithm>
#include <climits>
#include <map>
#include <memory>
#include <mutex>

#include "cuda_common.cuh"
#include "cuda_config.h"

#define SADANET_CUBLAS_CHECK(expr)                                                                       \
  do {                                                                                                   \
    cublasStatus_t sadanet_st_ = (expr);                                                                 \
    if (sadanet_st_ != CUBLAS_STATUS_SUCCESS)                                                            \
      throw ::sadanet::Error(::sadanet::detail::concat("cuBLAS error in ", #expr, " at ", __FILE__, ":", \
                                                       __LINE__, ": ", cublasGetStatusName(sadanet_st_), \
                                                       " (", cublasGetStatusString(sadanet_st_), ")"));  \
  } while (0)

namespace sadanet::cuda {
namespace {

constexpr size_t kCublasWorkspace = size_t{32} << 20;

struct CublasHandle {
  cublasHandle_t handle = nullptr;
  void* workspace = nullptr;
  std::mutex mu;  // a handle serves one call at a time
};

// The current device's handle (created on first use, never destroyed).
CublasHandle& cublas_handle() {
  int dev = 0;
  SADANET_CUDA_CHECK(cudaGetDevice(&dev));
  static std::mutex mu;
  static auto* handles = new std::map<int, std::unique_ptr<CublasHandle>>();
  std::lock_guard<std::mutex> lock(mu);
  auto& h = (*handles)[dev];
  if (!h) {
    auto fresh = std::make_unique<CublasHandle>();
    SADANET_CUBLAS_CHECK(cublasCreate(&fresh->handle));
    fresh->workspace = get_allocator(DeviceType::cuda)->allocate(kCublasWorkspace, dev);
    SADANET_CUBLAS_CHECK(cublasSetWorkspace(fresh->handle, fresh->workspace, kCublasWorkspace));
    h = std::move(fresh);
  }
  return *h;
}

// beta * C (or zeros when beta == 0: C may hold garbage) for k == 0, where cuBLAS has nothing to
// multiply.
template <class T>
__global__ void gemm_scale_kernel(T* __restrict__ c, int64_t total, int64_t m, int64_t n, int64_t ldc, int64_t stride_c,
                                  T beta) {
  SADANET_GRID_STRIDE(int64_t, q, total) {
    const int64_t j = q % n, rest = q / n;
    const int64_t i = rest % m, b = rest / m;
    T& v = c[b * stride_c + i * ldc + j];
    v = beta == T(0) ? T(0) : beta * v;
  }
}

int to_int(const char* what, int64_t v) {
  SADANET_CHECK(v >= 0 && v <= INT_MAX, "gemm: ", what, " = ", v, " exceeds cuBLAS's 32-bit limit");
  return static_cast<int>(v);
}

// Leading dimension of a stored row-major matrix with `rows` x `cols` as cuBLAS wants it: >= cols,
// which a single row need not satisfy (its ld is never used, so any legal value will do).
int64_t legal_ld(const char* what, int64_t ld, int64_t rows, int64_t cols) {
  if (rows <= 1) return std::max<int64_t>({ld, cols, 1});
  SADANET_CHECK(ld >= std::max<int64_t>(cols, 1), "gemm: ", what, " = ", ld, " is smaller than the row length ", cols,
                " of a ", rows, "x", cols, " operand");
  return ld;
}

void gemm_cuda(const GemmArgs& g, const Tensor& a, const Tensor& b, Tensor& c) {
  SADANET_CHECK(a.dtype() == c.dtype() && b.dtype() == c.dtype(), "gemm: expected a, b and c of one dtype, got ",
                dtype_name(a.dtype()), ", ", dtype_name(b.dtype()), " and ", dtype_name(c.dtype()));
  check_on_cuda("gemm", a, "a");
  check_on_cuda("gemm", b, "b");
  check_on_cuda("gemm", c, "c");
  SADANET_CHECK(g.batch >= 0 && g.m >= 0 && g.n >= 0 && g.k >= 0, "gemm: negative size (batch ", g.batch, ", m ", g.m,
                ", n ", g.n, ", k ", g.k, ")");
  dispatch_floating(c.dtype(), "gemm", [&]<class T>() {
    if (g.batch == 0 || g.m == 0 || g.n == 0) return;
    DeviceGuard guard(c.device());
    cudaStream_t stream = current_stream();
    T* cp = static_cast<T*>(c.raw_data());
    const int64_t ldc = legal_ld("ldc", g.ldc, g.m, g.n);
    if (g.k == 0) {
      const int64_t total = g.batch * g.m * g.n;
      SADANET_LAUNCH((grid_for(total), kThreads, 0, stream), gemm_scale_kernel<T>)(cp, total, g.m, g.n, ldc, g.stride_c,
                                                                     static_cast<T>(g.beta));
      return;
    }
    // Stored shapes (row-major): A is m x k (k x m when transposed), B is k x n (n x k).
    const int64_t lda = legal_ld("lda", g.lda, g.trans_a ? g.k : g.m, g.trans_a ? g.m : g.k);
    const int64_t ldb = legal_ld("ldb", g.ldb, g.trans_b ? g.n : g.k, g.trans_b ? g.k : g.n);
    // Column-major call: C^T (n x m) = op(B)^T (n x k) * op(A)^T (k x m).
    const cublasOperation_t op_first = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t op_second = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    const int m = to_int("n", g.n), n = to_int("m", g.m), k = to_int("k", g.k);
    const int ld_first = to_int("ldb", ldb), ld_second = to_int("lda", lda), ld_c = to_int("ldc", ldc);
    const int batch = to_int("batch", g.batch);
    const void* first = b.raw_data();
    const void* second = a.raw_data();
    CublasHandle& h = cublas_handle();
    std::lock_guard<std::mutex> lock(h.mu);
    // cublasSetStream puts the handle back on cuBLAS's default workspace pool (documented), so the
    // workspace from sadanet's allocator is set again after it, as PyTorch does.
    SADANET_CUBLAS_CHECK(cublasSetStream(h.handle, stream));
    SADANET_CUBLAS_CHECK(cublasSetWorkspace(h.handle, h.workspace, kCublasWorkspace));
    if constexpr (std::is_same_v<T, float>) {
      const float alpha = static_cast<float>(g.alpha), beta = static_cast<float>(g.beta);
      const cublasComputeType_t compute = tf32_enabled() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
      SADANET_CUBLAS_CHECK(cublasGemmStridedBatchedEx(h.handle, op_first, op_second, m, n, k, &alpha, first, CUDA_R_32F,
                                                      ld_first, g.stride_b, second, CUDA_R_32F, ld_second, g.stride_a,
                                                      &beta, cp, CUDA_R_32F, ld_c, g.stride_c, batch, compute,
                                                      CUBLAS_GEMM_DEFAULT));
    } else {
      const double alpha = g.alpha, beta = g.beta;
      SADANET_CUBLAS_CHECK(cublasDgemmStridedBatched(h.handle, op_first, op_second, m, n, k, &alpha,
                                                     static_cast<const double*>(first), ld_first, g.stride_b,
                                                     static_cast<const double*>(second), ld_second, g.stride_a, &beta,
                                                     cp, ld_c, g.stride_c, batch));
    }
  });
}

}  // namespace
}  // namespace sadanet::cuda

namespace sadanet {
SADANET_REGISTER_KERNEL(gemm, DeviceType::cuda, &cuda::gemm_cuda);
}  // namespace sadanet
