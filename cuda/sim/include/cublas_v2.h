// CUDA simulation build: a fake cuBLAS, the subset sadanet calls, implemented naively on the host
// (cuda/sim/fake_cublas.cpp). It is a test double, never shipped: it checks that sadanet calls
// cuBLAS as documented and computes what the documented call computes.
//
// Modelled:
//   - Types and enumerants with cuBLAS's own names and numeric values.
//   - Handles: create/destroy (a destroyed or never-created handle is CUBLAS_STATUS_NOT_INITIALIZED
//     instead of undefined behaviour), stream, math mode, workspace.
//   - "cublasSetStream unconditionally resets the cuBLAS library workspace back to the default
//     workspace pool" (cuBLAS documentation, cublasSetStream): the handle remembers whether a user
//     workspace is set, and every GEMM records whether it ran with one (cublasSim* queries below).
//   - cublasSetWorkspace: the pointer must be 256-byte aligned (documented) and device memory
//     covering the size (the fake's check: a real GPU would fault later).
//   - GEMM (column-major, per batch): C = alpha*op(A)*op(B) + beta*C, with the documented argument
//     checks (m, n, k, batchCount >= 0; lda >= max(1, rows of the stored A), and so on; unsupported
//     type/compute combinations are CUBLAS_STATUS_NOT_SUPPORTED). beta == 0: C is not read (NaN in C
//     does not leak). alpha == 0 or k == 0: C = beta*C and A, B are not read (reference BLAS).
//     Products accumulate in double and round once to the output type. TF32 (compute type
//     CUBLAS_COMPUTE_32F_FAST_TF32, or CUBLAS_COMPUTE_32F with math mode CUBLAS_TF32_TENSOR_OP_MATH,
//     or cublasSgemm* with that math mode) rounds every A and B element to TF32 (10 explicit
//     mantissa bits, round to nearest even) first, as tensor cores do; NVIDIA_TF32_OVERRIDE=0 in the
//     environment turns TF32 off, as it does on a GPU.
//   - Every operand pointer is checked with cuda_sim::device_range over the elements the call
//     touches (from the leading dimension, stride and batch count); a failure prints what is wrong
//     on stderr and returns CUBLAS_STATUS_INVALID_VALUE (real cuBLAS would fault). Batches whose C
//     matrices overlap (e.g. strideC == 0 with batchCount > 1) are refused the same way: on a GPU
//     their writes would race, and so is a GEMM on a handle whose user workspace is no longer device
//     memory (freed while the handle still holds it). Broadcast A or B (stride 0) is legal.
//
// Not modelled: pointer mode device (alpha/beta are host pointers, the default), half/bfloat16/int
// data, the 32F_FAST_16F/16BF compute types (NOT_SUPPORTED here), complex types, the _64 API,
// asynchrony (every call completes before it returns), A or B aliasing C, and cuBLAS's own
// rounding and summation order (results are the exact product rounded once, so they are at least
// as accurate as a GPU's).
#pragma once

#include <stddef.h>

#include "cuda_runtime.h"
#include "library_types.h"

// ---- types (cuBLAS's values, cublas_api.h) -------------------------------------------------------------
// The enums have a fixed underlying type (int) unlike the real C headers, so that a caller passing
// an out-of-range value (which the argument checks exist for) is well-defined C++, not UB.
typedef enum : int {
  CUBLAS_STATUS_SUCCESS = 0,
  CUBLAS_STATUS_NOT_INITIALIZED = 1,
  CUBLAS_STATUS_ALLOC_FAILED = 3,
  CUBLAS_STATUS_INVALID_VALUE = 7,
  CUBLAS_STATUS_ARCH_MISMATCH = 8,
  CUBLAS_STATUS_MAPPING_ERROR = 11,
  CUBLAS_STATUS_EXECUTION_FAILED = 13,
  CUBLAS_STATUS_INTERNAL_ERROR = 14,
  CUBLAS_STATUS_NOT_SUPPORTED = 15,
  CUBLAS_STATUS_LICENSE_ERROR = 16,
} cublasStatus_t;

typedef enum : int {
  CUBLAS_OP_N = 0,
  CUBLAS_OP_T = 1,
  CUBLAS_OP_C = 2,
  CUBLAS_OP_HERMITAN = 2,
  CUBLAS_OP_CONJG = 3,
} cublasOperation_t;

typedef enum : int {
  CUBLAS_COMPUTE_16F = 64,
  CUBLAS_COMPUTE_16F_PEDANTIC = 65,
  CUBLAS_COMPUTE_32F = 68,
  CUBLAS_COMPUTE_32F_PEDANTIC = 69,
  CUBLAS_COMPUTE_32F_FAST_16F = 74,
  CUBLAS_COMPUTE_32F_FAST_16BF = 75,
  CUBLAS_COMPUTE_32F_FAST_TF32 = 77,
  CUBLAS_COMPUTE_64F = 70,
  CUBLAS_COMPUTE_64F_PEDANTIC = 71,
  CUBLAS_COMPUTE_32I = 72,
  CUBLAS_COMPUTE_32I_PEDANTIC = 73,
} cublasComputeType_t;

typedef enum : int {
  CUBLAS_DEFAULT_MATH = 0,
  CUBLAS_TENSOR_OP_MATH = 1,  // deprecated by NVIDIA, still accepted
  CUBLAS_PEDANTIC_MATH = 2,
  CUBLAS_TF32_TENSOR_OP_MATH = 3,
  CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION = 16,  // a flag, or-ed with one of the above
} cublasMath_t;

typedef enum : int {
  CUBLAS_GEMM_DFALT = -1,
  CUBLAS_GEMM_DEFAULT = -1,
  CUBLAS_GEMM_ALGO0 = 0,
  CUBLAS_GEMM_ALGO23 = 23,  // ALGO0..ALGO23 are 0..23
  CUBLAS_GEMM_DEFAULT_TENSOR_OP = 99,
  CUBLAS_GEMM_DFALT_TENSOR_OP = 99,
  CUBLAS_GEMM_ALGO0_TENSOR_OP = 100,
  CUBLAS_GEMM_ALGO15_TENSOR_OP = 115,  // ALGO0_TENSOR_OP..ALGO15_TENSOR_OP are 100..115
} cublasGemmAlgo_t;

struct cublasContext;
typedef struct cublasContext* cublasHandle_t;

// ---- helper functions -------------------------------------------------------------------------------------
cublasStatus_t cublasCreate(cublasHandle_t* handle);
cublasStatus_t cublasDestroy(cublasHandle_t handle);
cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t streamId);
cublasStatus_t cublasGetStream(cublasHandle_t handle, cudaStream_t* streamId);
cublasStatus_t cublasSetWorkspace(cublasHandle_t handle, void* workspace, size_t workspaceSizeInBytes);
cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode);
cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t* mode);
const char* cublasGetStatusName(cublasStatus_t status);
const char* cublasGetStatusString(cublasStatus_t status);

// ---- GEMM ---------------------------------------------------------------------------------------------------
cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                           int k, const float* alpha, const float* A, int lda, const float* B, int ldb,
                           const float* beta, float* C, int ldc);
cublasStatus_t cublasDgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                           int k, const double* alpha, const double* A, int lda, const double* B, int ldb,
                           const double* beta, double* C, int ldc);
cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                         int m, int n, int k, const float* alpha, const float* A, int lda,
                                         long long int strideA, const float* B, int ldb, long long int strideB,
                                         const float* beta, float* C, int ldc, long long int strideC, int batchCount);
cublasStatus_t cublasDgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                         int m, int n, int k, const double* alpha, const double* A, int lda,
                                         long long int strideA, const double* B, int ldb, long long int strideB,
                                         const double* beta, double* C, int ldc, long long int strideC, int batchCount);
cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                            int k, const void* alpha, const void* A, cudaDataType Atype, int lda, const void* B,
                            cudaDataType Btype, int ldb, const void* beta, void* C, cudaDataType Ctype, int ldc,
                            cublasComputeType_t computeType, cublasGemmAlgo_t algo);
cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                          int m, int n, int k, const void* alpha, const void* A, cudaDataType Atype,
                                          int lda, long long int strideA, const void* B, cudaDataType Btype, int ldb,
                                          long long int strideB, const void* beta, void* C, cudaDataType Ctype, int ldc,
                                          long long int strideC, int batchCount, cublasComputeType_t computeType,
                                          cublasGemmAlgo_t algo);

// ---- simulation-only queries (not cuBLAS API; they exist only in this fake) --------------------------------------
// Whether the handle has a user workspace now (cublasSetWorkspace since the last cublasSetStream).
bool cublasSimUsesUserWorkspace(cublasHandle_t handle);
// About the handle's last GEMM call that returned CUBLAS_STATUS_SUCCESS (false / 0 before any):
// whether it ran with the user workspace, and whether it rounded its inputs to TF32.
bool cublasSimLastGemmUsedUserWorkspace(cublasHandle_t handle);
bool cublasSimLastGemmUsedTf32(cublasHandle_t handle);
// GEMM calls on the handle that returned CUBLAS_STATUS_SUCCESS.
long long cublasSimGemmCalls(cublasHandle_t handle);
// The same, process-wide, for tests that cannot reach the handle (sadanet's is private to
// cuda/gemm_cublas.cu): the last successful GEMM on any handle (all false/null before any), and
// the count of successful GEMMs on all handles.
struct CublasSimGemm {
  cublasHandle_t handle;
  cudaStream_t stream;       // the handle's stream at the call
  bool used_user_workspace;  // a cublasSetWorkspace buffer was in effect
  bool tf32;                 // A and B were rounded to TF32
};
CublasSimGemm cublasSimLastGemm();
long long cublasSimGemmCallsAll();
