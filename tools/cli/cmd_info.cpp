// `sadanet info`: what this build is and what it finds on this machine.
#include <iostream>

#include "commands.h"
#include "sadanet/runtime.h"

namespace sadanet::cli {
namespace {

std::string join(const std::vector<std::string>& xs) {
  std::string out;
  for (const auto& x : xs) out += (out.empty() ? "" : " ") + x;
  return out.empty() ? "(none detected)" : out;
}

void run_info() {
  std::cout << "sadanet " << version() << "\n"
            << "build:        " << build_info() << "\n"
            << "cpu:          " << cpu_name() << "\n"
            << "cpu features: " << join(cpu_features()) << "\n"
            << "avx2+fma:     " << (cpu_has_avx2_fma() ? "yes" : "no") << "\n"
            << "threads:      " << num_threads() << " (OMP_NUM_THREADS to change)\n"
#if SADANET_WITH_ONNX
            << "export:       onnx, torchvision\n";
#else
            << "export:       torchvision (onnx not built: needs libonnx-dev libprotobuf-dev)\n";
#endif
  if (!cuda_built()) {
    std::cout << "cuda:         not built (CPU-only library)\n";
    return;
  }
  const auto names = cuda_device_names();
  std::cout << "cuda:         built, " << names.size() << " GPU(s)"
            << (names.empty() ? ": " + cuda_unavailable_reason() : std::string()) << "\n";
  for (size_t i = 0; i < names.size(); ++i) std::cout << "  cuda:" << i << "       " << names[i] << "\n";
}

}  // namespace

void register_info(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Print the version, build options, CPU, threads and GPUs");
  cmd->callback(run_info);
}

}  // namespace sadanet::cli
