// Device queries the CUDA backend (cuda/) provides when the library is built with it
// (SADANET_WITH_CUDA). runtime.cpp calls them; nothing else in src/ may reach CUDA directly.
#pragma once
#include <string>
#include <vector>

namespace sadanet {

// 0 when no GPU can be used (never throws); `error`, when given, receives the runtime's error when
// the query itself failed (left empty for a machine that simply has no GPU).
int cuda_runtime_device_count(std::string* error = nullptr);
std::vector<std::string> cuda_runtime_device_names();  // one per device, in index order
void cuda_runtime_memory(int device, size_t* allocated, size_t* reserved, size_t* peak);
void cuda_runtime_reset_peak_memory(int device);

}  // namespace sadanet
