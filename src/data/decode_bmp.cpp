// BMP through our own reader, for the BMPs cameras and image tools write: a BITMAPINFOHEADER (or
// its V4/V5 extensions), uncompressed 24-bit BGR, 32-bit BGRX (or BI_BITFIELDS with 8-bit
// masks), or 8-bit paletted. Everything else (RLE, 1/4/16-bit, OS/2 headers) is refused by name.
// Every size is computed in 64 bits and checked against the bytes present before it is used.
#include <cstring>

#include "data/image_codecs.h"
#include "sadanet/error.h"

namespace sadanet::data::detail {
namespace {

uint32_t le32(const uint8_t* p) {
  return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

// A channel mask of 8 contiguous bits: its shift; -1 otherwise.
int mask_shift(uint32_t m) {
  for (int s = 0; s <= 24; s += 8)
    if (m == (0xffu << s)) return s;
  return -1;
}

}  // namespace

Image decode_bmp(const uint8_t* b, size_t n, const std::string& name, const DecodeOptions& opts) {
  const std::string what = "image " + name + ": ";
  SADANET_CHECK(n >= 54, what, "truncated BMP header (", n, " bytes, expected at least 54)");
  const int64_t data_offset = le32(b + 10), dib = le32(b + 14);
  SADANET_CHECK(dib == 40 || dib == 52 || dib == 56 || dib == 108 || dib == 124, what,
                "unsupported BMP header of ", dib, " bytes; expected BITMAPINFOHEADER (40) or V2-V5 (52, 56, 108, 124)");
  SADANET_CHECK(14 + dib <= static_cast<int64_t>(n), what, "truncated BMP header (", n, " bytes, the header needs ",
                14 + dib, ")");
  const int64_t w = static_cast<int32_t>(le32(b + 18)), h_signed = static_cast<int32_t>(le32(b + 22));
  const int64_t planes = le16(b + 26), bpp = le16(b + 28), compression = le32(b + 30);
  const int64_t h = h_signed < 0 ? -h_signed : h_signed;  // negative: rows stored top-down
  SADANET_CHECK(w > 0 && h > 0, what, "BMP of ", w, "x", h_signed, " pixels; expected positive sizes");
  SADANET_CHECK(planes == 1, what, "BMP with ", planes, " planes; expected 1");
  check_pixels(w, h, name, opts);

  int shift[3] = {16, 8, 0};  // R, G, B in a little-endian 32-bit pixel
  if (compression == 3 && bpp == 32) {
    // BI_BITFIELDS: masks after a 40-byte header, or inside a larger one.
    SADANET_CHECK(14 + 40 + 12 <= static_cast<int64_t>(n), what, "truncated BMP colour masks");
    for (int c = 0; c < 3; ++c) shift[c] = mask_shift(le32(b + 54 + 4 * c));
    SADANET_CHECK(shift[0] >= 0 && shift[1] >= 0 && shift[2] >= 0, what,
                  "BMP colour masks that are not 8 bits each (", le32(b + 54), ", ", le32(b + 58), ", ", le32(b + 62), ")");
  } else {
    SADANET_CHECK(compression == 0, what, "compressed BMP (compression ", compression,
                  "); expected uncompressed (0), or bit fields (3) with 32 bits");
  }
  SADANET_CHECK(bpp == 24 || bpp == 32 || bpp == 8, what, "BMP of ", bpp,
                " bits per pixel; expected 8 (paletted), 24 or 32");

  // The palette (8-bit): BGRX entries right after the header (and masks, if any).
  const uint8_t* palette = nullptr;
  int64_t colours = 0;
  if (bpp == 8) {
    colours = le32(b + 46);
    if (colours == 0) colours = 256;
    SADANET_CHECK(colours <= 256, what, "BMP palette of ", colours, " colours; expected at most 256");
    const int64_t at = 14 + dib + (compression == 3 && dib == 40 ? 12 : 0);
    SADANET_CHECK(at + 4 * colours <= static_cast<int64_t>(n) && at + 4 * colours <= data_offset, what,
                  "truncated BMP palette (", colours, " colours at byte ", at, ", the file has ", n, " bytes)");
    palette = b + at;
  }

  const int64_t stride = ((w * bpp + 31) / 32) * 4;
  const int64_t need = data_offset + stride * h;
  SADANET_CHECK(data_offset >= 14 + dib, what, "BMP pixels at byte ", data_offset, ", inside its ", 14 + dib,
                "-byte header");
  SADANET_CHECK(need <= static_cast<int64_t>(n), what, "truncated BMP (", n, " bytes, the header promises ", need, ")");

  Image img;
  img.width = static_cast<int>(w);
  img.height = static_cast<int>(h);
  img.rgb.resize(static_cast<size_t>(w * h * 3));
  for (int64_t y = 0; y < h; ++y) {
    const uint8_t* row = b + data_offset + stride * (h_signed < 0 ? y : h - 1 - y);
    uint8_t* out = img.at(static_cast<int>(y), 0);
    for (int64_t x = 0; x < w; ++x, out += 3) {
      if (bpp == 24) {
        out[0] = row[3 * x + 2], out[1] = row[3 * x + 1], out[2] = row[3 * x];
      } else if (bpp == 32) {
        const uint32_t v = le32(row + 4 * x);
        for (int c = 0; c < 3; ++c) out[c] = static_cast<uint8_t>(v >> shift[c]);
      } else {
        const int64_t i = row[x];
        SADANET_CHECK(i < colours, what, "BMP pixel (", x, ", ", y, ") uses colour ", i, " of a ", colours,
                      "-colour palette");
        out[0] = palette[4 * i + 2], out[1] = palette[4 * i + 1], out[2] = palette[4 * i];
      }
    }
  }
  return img;
}

}  // namespace sadanet::data::detail
