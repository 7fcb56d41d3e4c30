// Encoders for the image-decoding tests and the fuzz smoke test's seeds: JPEG through libjpeg
// (baseline or progressive, greyscale or colour, any chroma subsampling), PNG through libpng
// (every colour type and depth, interlaced or not) and BMP by hand (24, 32 and 8-bit).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sadanet/data/image.h"

namespace sadanet::test {

struct JpegSpec {
  int quality = 90;
  bool progressive = false;
  bool grey = false;       // one component (the image's R channel)
  bool subsample = true;   // 4:2:0 chroma; false: 4:4:4
};
std::vector<uint8_t> encode_jpeg(const data::Image& img, const JpegSpec& spec = {});

// PNG of the image in one of libpng's colour types (PNG_COLOR_TYPE_*); grey types take the R
// channel, alpha is a gradient, palette images use the first 256 colours met (at most 256).
// depth 16 stores each 8-bit value v as v * 257.
std::vector<uint8_t> encode_png(const data::Image& img, int color_type, int depth = 8, bool interlaced = false);

// BMP: bpp 24 (BGR) or 32 (BGRX), or 8 with a palette of the image's colours (at most 256);
// top_down stores a negative height.
std::vector<uint8_t> encode_bmp_bytes(const data::Image& img, int bpp = 24, bool top_down = false);

// A smooth colour test picture (gradients and a disc), h x w.
data::Image test_picture(int h, int w);

}  // namespace sadanet::test
