// The switches of cuda_config.h: environment first, setters afterwards.
#include "cuda_config.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "sadanet/error.h"

namespace sadanet::cuda {
namespace {

// -1: not read yet; otherwise the value.
std::atomic<int> g_tf32{-1};
std::atomic<int> g_conv{-1};

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v && (std::strcmp(v, "1") == 0 || std::strcmp(v, "on") == 0 || std::strcmp(v, "ON") == 0 ||
               std::strcmp(v, "true") == 0);
}

ConvBackend default_conv_backend() {
  const char* v = std::getenv("SADANET_CONV");
  if (v && *v) {
    if (std::strcmp(v, "implicit_gemm") == 0) return ConvBackend::implicit_gemm;
    if (std::strcmp(v, "cudnn") == 0) return cudnn_available() ? ConvBackend::cudnn : ConvBackend::implicit_gemm;
    throw Error(detail::concat("SADANET_CONV: expected 'cudnn' or 'implicit_gemm', got '", v, "'"));
  }
  return cudnn_available() ? ConvBackend::cudnn : ConvBackend::implicit_gemm;
}

}  // namespace

void set_tf32(bool on) { g_tf32.store(on ? 1 : 0); }

bool tf32_enabled() {
  int v = g_tf32.load();
  if (v < 0) {
    int expected = -1;
    g_tf32.compare_exchange_strong(expected, env_flag("SADANET_TF32") ? 1 : 0);
    v = g_tf32.load();
  }
  return v == 1;
}

bool cudnn_available() {
#ifdef SADANET_WITH_CUDNN
  return true;
#else
  return false;
#endif
}

void set_conv_backend(ConvBackend b) {
  if (b == ConvBackend::cudnn && !cudnn_available()) b = ConvBackend::implicit_gemm;
  g_conv.store(static_cast<int>(b));
}

ConvBackend conv_backend() {
  int v = g_conv.load();
  if (v < 0) {
    int expected = -1;
    g_conv.compare_exchange_strong(expected, static_cast<int>(default_conv_backend()));
    v = g_conv.load();
  }
  return static_cast<ConvBackend>(v);
}

}  // namespace sadanet::cuda
