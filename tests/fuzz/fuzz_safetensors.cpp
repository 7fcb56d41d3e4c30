// libFuzzer harness for the safetensors reader: any input may be refused with sadanet::Error, but
// nothing may crash, leak, read out of bounds or throw anything else. Seed corpus: tests/golden/io.
#include <cstddef>
#include <cstdint>

#include "sadanet/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    sadanet::io::TensorFile f = sadanet::io::read_safetensors_bytes(data, size, "fuzz");
    // What was read must write back and read again to the same tensors.
    auto bytes = sadanet::io::safetensors_bytes(f.tensors, f.metadata);
    sadanet::io::TensorFile again = sadanet::io::read_safetensors_bytes(bytes.data(), bytes.size(), "fuzz-rewrite");
    if (again.tensors.size() != f.tensors.size() || again.metadata != f.metadata) __builtin_trap();
    if (!again.verified) __builtin_trap();  // sadanet's writer checksums what it writes
  } catch (const sadanet::Error&) {
  }
  return 0;
}
