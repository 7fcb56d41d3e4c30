// Build and machine facts, for `sadanet info` and benchmark reports.
#pragma once
#include <string>
#include <vector>

namespace sadanet {

std::string version();
std::string build_info();           // CMake options the library was built with
std::string source_commit();        // the git commit the build was configured from, or "unknown"
std::string cpu_name();
std::vector<std::string> cpu_features();  // e.g. "avx2", "fma", "avx512f"
bool cpu_has_avx2_fma();
int num_threads();                  // threads CPU kernels use (OpenMP)
void set_num_threads(int n);
bool cuda_built();
int cuda_device_count();            // 0 when not built or no GPU
std::vector<std::string> cuda_device_names();
// Why no GPU can be used, or "" when cuda_device_count() > 0: "not built", "no CUDA device", or
// the CUDA runtime's error (a driver too old for the runtime is the usual one on a GPU machine).
std::string cuda_unavailable_reason();
// Parses `device` and checks that it can be used here; otherwise throws sadanet::Error
// "<who>: --device cuda: <why>; use --device cpu" (no CUDA backend, no GPU, an index past the
// last GPU), before any work starts. Returns the parsed device's string ("cpu", "cuda:0").
std::string require_device(const std::string& device, const std::string& who);
// The CUDA caching allocator's bytes on a device: in live tensors (rounded to its size classes),
// held from cudaMalloc (live or cached), and the highest live count since start or the last reset.
// All zero when CUDA is not built.
struct CudaMemory {
  size_t allocated = 0, reserved = 0, peak = 0;
};
CudaMemory cuda_memory(int device = 0);
void cuda_reset_peak_memory(int device = 0);

}  // namespace sadanet
