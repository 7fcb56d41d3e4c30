// libFuzzer harness for image decoding (JPEG through libjpeg-turbo, PNG through libpng, our BMP
// reader) through decode_image, which sniffs the format. Any input may be refused with
// sadanet::Error; nothing may crash, leak, read out of bounds or throw anything else. The pixel
// limit is lowered to 4 MP so that a mutated header costs at most a few MB, and the size hint
// alternates with the input's last byte so the scaled JPEG paths are covered too. Fuzzing builds
// define FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, which lets mutations past PNG's CRCs.
// Seed corpus: tests/fuzz/image_seeds.
#include <cstddef>
#include <cstdint>

#include "sadanet/data/image.h"
#include "sadanet/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sadanet::data::DecodeOptions o;
  o.max_pixels = 4 << 20;
  if (size > 0 && (data[size - 1] & 1)) o.hint_height = o.hint_width = 1 + data[size - 1] / 4;
  try {
    sadanet::data::Image img = sadanet::data::decode_image(data, size, "fuzz", o);
    if (img.rgb.size() != static_cast<size_t>(img.width) * img.height * 3) __builtin_trap();
  } catch (const sadanet::Error&) {
  }
  return 0;
}
