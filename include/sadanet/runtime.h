// Build and machine facts, for `sadanet info` and benchmark reports.
#pragma once
#include <string>
#include <vector>

namespace sadanet {

std::string version();
std::string build_info();           // CMake options the library was built with
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

}  // namespace sadanet
