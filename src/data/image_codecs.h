// The per-format decoders behind decode_image (src/data/image.cpp), which sniffs the format and
// checks the byte count first. Each throws sadanet::Error "image <name>: ..." with the library's
// own reason, refuses a header whose width * height exceeds opts.max_pixels before decoding a
// pixel, and returns RGB.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "sadanet/data/image.h"

namespace sadanet::data::detail {

Image decode_jpeg(const uint8_t* bytes, size_t n, const std::string& name, const DecodeOptions& opts);
Image decode_png(const uint8_t* bytes, size_t n, const std::string& name, const DecodeOptions& opts);
Image decode_bmp(const uint8_t* bytes, size_t n, const std::string& name, const DecodeOptions& opts);

// "image <name>: <w>x<h> = <n> pixels, above the limit of <max> (--max-pixels)" unless within it.
void check_pixels(int64_t width, int64_t height, const std::string& name, const DecodeOptions& opts);

}  // namespace sadanet::data::detail
