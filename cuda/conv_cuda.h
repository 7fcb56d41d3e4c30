// The two conv2d implementations of the CUDA backend; conv_cuda.cu registers the slots and picks
// one per call (cuda_config.h: conv_backend()). Tensors arrive checked: NCHW, contiguous, f32 or
// f64, one device (the current one), outputs allocated by the op.
#pragma once
#include <string>

#include "kernels/kernels.h"

namespace sadanet::cuda {

// Hand-written implicit GEMM (conv_implicit_gemm.cu): always available, f32 and f64.
void conv2d_forward_igemm(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y);
void conv2d_backward_input_igemm(const Tensor& gy, const Tensor& w, const Conv2dParams& p, Tensor& gx);
void conv2d_backward_weight_igemm(const Tensor& gy, const Tensor& x, const Conv2dParams& p, Tensor& gw);

// cuDNN (conv_cudnn.cu). Each returns false, having written nothing that matters, when cuDNN is
// not built in or has no algorithm for the case (the caller then runs the implicit GEMM).
bool conv2d_forward_cudnn(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y);
bool conv2d_backward_input_cudnn(const Tensor& gy, const Tensor& w, const Conv2dParams& p, Tensor& gx);
bool conv2d_backward_weight_cudnn(const Tensor& gy, const Tensor& x, const Conv2dParams& p, Tensor& gw);

// One line per (direction, shape) cuDNN has been asked about: the algorithm chosen, its
// workspace and math type, or "implicit_gemm" when cuDNN had none. For benchmarks and debugging.
std::string cudnn_conv_choices();

}  // namespace sadanet::cuda
