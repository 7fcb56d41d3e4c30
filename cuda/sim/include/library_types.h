// CUDA simulation build: the subset of CUDA's library_types.h that sadanet's calls name. The
// values are CUDA's own, so that a log or a status printed under the simulation reads as it would
// on a GPU.
#pragma once

typedef enum cudaDataType_t {
  CUDA_R_16F = 2,
  CUDA_R_32F = 0,
  CUDA_R_64F = 1,
  CUDA_R_16BF = 14,
  CUDA_R_8I = 3,
  CUDA_R_32I = 10,
} cudaDataType;
