// Device discovery and host<->device transfers.
#include <string>
#include <vector>

#include "core/cuda_hooks.h"
#include "cuda_check.h"
#include "kernels/kernels.h"

namespace sadanet {

int cuda_runtime_device_count(std::string* error) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e == cudaSuccess) return n;
  (void)cudaGetLastError();
  // No device is a fact about the machine; anything else is a failure to be reported, not "0 GPUs"
  // (a driver older than the runtime, a broken CUDA_VISIBLE_DEVICES, no /dev/nvidia* in a container).
  if (error && e != cudaErrorNoDevice) {
    *error = detail::concat("cudaGetDeviceCount failed with ", cudaGetErrorName(e), ": ", cudaGetErrorString(e));
    if (e == cudaErrorInsufficientDriver)
      *error += " (this build's CUDA runtime needs a newer NVIDIA driver; CUDA 13 needs the R580 series or later)";
  }
  return 0;
}

std::vector<std::string> cuda_runtime_device_names() {
  std::vector<std::string> names;
  for (int i = 0; i < cuda_runtime_device_count(); ++i) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, i) == cudaSuccess)
      names.push_back(std::string(p.name) + " (sm_" + std::to_string(p.major) + std::to_string(p.minor) + ", " +
                      std::to_string(p.totalGlobalMem >> 20) + " MiB)");
  }
  return names;
}

namespace {
void transfer_cuda(const void* src, Device src_dev, void* dst, Device dst_dev, size_t nbytes) {
  cudaMemcpyKind kind = src_dev.is_cpu() ? cudaMemcpyHostToDevice
                        : dst_dev.is_cpu() ? cudaMemcpyDeviceToHost
                                           : cudaMemcpyDeviceToDevice;
  SADANET_CUDA_CHECK(cudaMemcpy(dst, src, nbytes, kind));
}
}  // namespace

SADANET_REGISTER_KERNEL(transfer, DeviceType::cuda, transfer_cuda);

}  // namespace sadanet
