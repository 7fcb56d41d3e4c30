// Run-time switches of the CUDA backend (see cuda/README.md). Each reads its environment
// variable once, at first use; the setters override it for the rest of the process.
#pragma once

namespace sadanet::cuda {

// TF32 tensor-core math for f32 GEMMs (cuBLAS) and convolutions (cuDNN). Off by default, so f32
// results are exact f32 (FMA) arithmetic that matches the CPU backend to rounding. Environment:
// SADANET_TF32=1 turns it on. f64 never uses TF32.
void set_tf32(bool on);
bool tf32_enabled();

// Which implementation runs conv2d forward/backward on the GPU.
//   cudnn         cuDNN (the default when the library is built with it);
//   implicit_gemm the hand-written implicit-GEMM kernels of conv_implicit_gemm.cu (the default,
//                 and the only choice, when cuDNN is not built in).
// Environment: SADANET_CONV=implicit_gemm or SADANET_CONV=cudnn. Asking for cudnn in a build
// without it falls back to implicit_gemm.
enum class ConvBackend { cudnn, implicit_gemm };
void set_conv_backend(ConvBackend b);
ConvBackend conv_backend();
bool cudnn_available();  // true when the library was built with cuDNN

}  // namespace sadanet::cuda
