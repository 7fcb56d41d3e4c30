// Device queries the CUDA backend (cuda/) provides when the library is built with it
// (SADANET_WITH_CUDA). runtime.cpp calls them; nothing else in src/ may reach CUDA directly.
#pragma once
#include <string>
#include <vector>

namespace sadanet {

int cuda_runtime_device_count();                       // 0 when no usable GPU (never throws)
std::vector<std::string> cuda_runtime_device_names();  // one per device, in index order

}  // namespace sadanet
