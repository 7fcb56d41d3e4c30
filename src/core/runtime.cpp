// Build and machine facts (runtime.h), for `sadanet info` and benchmark reports.
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include "sadanet/runtime.h"

#include <omp.h>

#include <fstream>

#include "core/cuda_hooks.h"
#include "sadanet/device.h"
#include "sadanet/error.h"

#ifndef SADANET_VERSION
#error "SADANET_VERSION must be defined by the build (CMakeLists.txt)"
#endif
#ifndef SADANET_BUILD_INFO
#define SADANET_BUILD_INFO "unknown (built outside CMake)"
#endif

namespace sadanet {

std::string version() { return SADANET_VERSION; }
std::string build_info() { return SADANET_BUILD_INFO; }
#ifndef SADANET_GIT_COMMIT
#define SADANET_GIT_COMMIT "unknown"
#endif
std::string source_commit() { return SADANET_GIT_COMMIT; }

namespace {
std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}
}  // namespace

std::string cpu_name() {
  // x86 names the CPU in "model name"; some ARM kernels only give "Hardware" or "Model".
  std::ifstream in("/proc/cpuinfo");
  std::string line, fallback;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = trim(line.substr(0, colon)), value = trim(line.substr(colon + 1));
    if (value.empty()) continue;
    if (key == "model name") return value;
    if ((key == "Hardware" || key == "Model") && fallback.empty()) fallback = value;
  }
  return fallback.empty() ? "unknown" : fallback;
}

std::vector<std::string> cpu_features() {
  std::vector<std::string> out;
#if defined(__x86_64__) || defined(__i386__)
  // The features the kernels or a -march=native build can use, in rising order.
#define SADANET_FEATURE(name) \
  if (__builtin_cpu_supports(name)) out.emplace_back(name)
  SADANET_FEATURE("sse4.2");
  SADANET_FEATURE("avx");
  {
    // CPUID leaf 1, ECX bit 29: clang's __builtin_cpu_supports has no "f16c" before clang 15.
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29))) out.emplace_back("f16c");
  }
  SADANET_FEATURE("fma");
  SADANET_FEATURE("avx2");
  SADANET_FEATURE("avx512f");
  SADANET_FEATURE("avx512bw");
  SADANET_FEATURE("avx512vl");
  SADANET_FEATURE("avx512vnni");
  SADANET_FEATURE("avx512bf16");
#undef SADANET_FEATURE
#endif
  return out;
}

bool cpu_has_avx2_fma() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

int num_threads() { return omp_get_max_threads(); }

void set_num_threads(int n) {
  SADANET_CHECK(n >= 1, "set_num_threads: expected n >= 1, got ", n);
  omp_set_num_threads(n);
}

#ifdef SADANET_WITH_CUDA
bool cuda_built() { return true; }
int cuda_device_count() { return cuda_runtime_device_count(); }
std::vector<std::string> cuda_device_names() { return cuda_runtime_device_names(); }
CudaMemory cuda_memory(int device) {
  CudaMemory m;
  cuda_runtime_memory(device, &m.allocated, &m.reserved, &m.peak);
  return m;
}
void cuda_reset_peak_memory(int device) { cuda_runtime_reset_peak_memory(device); }
std::string cuda_unavailable_reason() {
  std::string error;
  if (cuda_runtime_device_count(&error) > 0) return "";
  return error.empty() ? "no CUDA device is present" : error;
}
#else
bool cuda_built() { return false; }
int cuda_device_count() { return 0; }
std::vector<std::string> cuda_device_names() { return {}; }
CudaMemory cuda_memory(int) { return {}; }
void cuda_reset_peak_memory(int) {}
std::string cuda_unavailable_reason() {
  return "the CUDA backend is not built into this library (configure with -DSADANET_CUDA=ON where nvcc is installed)";
}
#endif

std::string require_device(const std::string& device, const std::string& who) {
  const Device d = Device::parse(device);
  if (d.is_cpu()) return d.str();
  const int n = cuda_device_count();
  if (n == 0) throw Error(who + ": --device " + device + ": " + cuda_unavailable_reason() + "; use --device cpu");
  if (d.index >= n)
    throw Error(detail::concat(who, ": --device ", device, ": this machine has ", n, " GPU(s), cuda:0 to cuda:", n - 1));
  return d.str();
}

}  // namespace sadanet
