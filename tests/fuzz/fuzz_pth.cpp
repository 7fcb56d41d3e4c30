// libFuzzer harness for .pth loading (zip container, legacy stream, restricted unpickler) through
// the content-sniffing entry point, so safetensors-looking inputs are covered too. Any input may
// be refused with sadanet::Error; nothing may crash, leak or throw anything else. Fuzzing builds
// define FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, which skips zip CRC checks so that mutations
// reach the pickle. Seed corpus: tests/golden/io.
#include <cstddef>
#include <cstdint>

#include "sadanet/io/pth.h"
#include "sadanet/io/weights.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    sadanet::io::load_weights_bytes(data, size, "fuzz");
  } catch (const sadanet::Error&) {
  }
  return 0;
}
