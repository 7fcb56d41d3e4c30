// Every CUDA call's status is checked; the error names the call, the file and line.
#pragma once
#include <cuda_runtime.h>

#include "sadanet/error.h"

#define SADANET_CUDA_CHECK(expr)                                                                  \
  do {                                                                                            \
    cudaError_t sadanet_err_ = (expr);                                                            \
    if (sadanet_err_ != cudaSuccess)                                                              \
      throw ::sadanet::Error(::sadanet::detail::concat("CUDA error in ", #expr, " at ", __FILE__, \
                                                       ":", __LINE__, ": ",                       \
                                                       cudaGetErrorString(sadanet_err_)));        \
  } while (0)
