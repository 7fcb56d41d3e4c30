// Every CUDA call's status is checked; the error names the call, the file and line. The failure
// is also taken off the runtime's last-error slot (a sticky error stays anyway), so the next
// kernel's launch check does not report it as its own.
#pragma once
#include <cuda_runtime.h>

#include "sadanet/error.h"

#define SADANET_CUDA_CHECK(expr)                                                                   \
  do {                                                                                             \
    cudaError_t sadanet_err_ = (expr);                                                             \
    if (sadanet_err_ != cudaSuccess) {                                                             \
      std::string sadanet_msg_ = ::sadanet::detail::concat("CUDA error in ", #expr, " at ", __FILE__, \
                                                           ":", __LINE__, ": ",                    \
                                                           cudaGetErrorString(sadanet_err_));      \
      (void)cudaGetLastError();                                                                    \
      throw ::sadanet::Error(sadanet_msg_);                                                        \
    }                                                                                              \
  } while (0)
