// Device discovery and host<->device transfers.
#include <string>
#include <vector>

#include "core/cuda_hooks.h"
#include "cuda_allocator.h"
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
  if (!error || e == cudaErrorNoDevice) return 0;
  int driver = 0;
  if (e == cudaErrorInsufficientDriver && cudaDriverGetVersion(&driver) == cudaSuccess && driver == 0) {
    // The runtime says "insufficient driver" also where there is no driver at all (a PC without a
    // GPU): that is the machine, not a failure.
    *error = "no NVIDIA driver is installed (libcuda was not found), so no GPU can be used";
    return 0;
  }
  *error = detail::concat("cudaGetDeviceCount failed with ", cudaGetErrorName(e), ": ", cudaGetErrorString(e));
  if (e == cudaErrorInsufficientDriver)
    *error += detail::concat(" (the NVIDIA driver supports CUDA ", driver / 1000, ".", driver % 1000 / 10,
                             "; this build's runtime needs a newer one: CUDA 13 needs the R580 series or later)");
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

void cuda_runtime_memory(int device, size_t* allocated, size_t* reserved, size_t* peak) {
  const auto s = cuda::memory_stats(device);
  *allocated = s.allocated;
  *reserved = s.reserved;
  *peak = s.peak;
}

void cuda_runtime_reset_peak_memory(int device) { cuda::reset_peak_memory(device); }

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
