#include "image_encoders.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <stdexcept>

#include <jpeglib.h>
#include <png.h>

namespace sadanet::test {

std::vector<uint8_t> encode_jpeg(const data::Image& img, const JpegSpec& spec) {
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);  // the inputs are ours and valid: libjpeg's exit() is fine here
  jpeg_create_compress(&c);
  unsigned char* out = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &out, &size);
  c.image_width = img.width;
  c.image_height = img.height;
  c.input_components = spec.grey ? 1 : 3;
  c.in_color_space = spec.grey ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, spec.quality, TRUE);
  if (!spec.grey && !spec.subsample)
    for (int i = 0; i < 3; ++i) c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
  if (spec.progressive) jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  std::vector<uint8_t> row(static_cast<size_t>(img.width) * 3);
  while (c.next_scanline < c.image_height) {
    const uint8_t* src = img.at(static_cast<int>(c.next_scanline), 0);
    if (spec.grey)
      for (int x = 0; x < img.width; ++x) row[x] = src[3 * x];
    else
      std::memcpy(row.data(), src, row.size());
    JSAMPROW r = row.data();
    jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c);
  std::vector<uint8_t> bytes(out, out + size);
  jpeg_destroy_compress(&c);
  std::free(out);
  return bytes;
}

namespace {
void png_append(png_structp png, png_bytep data, png_size_t n) {
  auto* v = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  v->insert(v->end(), data, data + n);
}
void png_flush(png_structp) {}
}  // namespace

std::vector<uint8_t> encode_png(const data::Image& img, int color_type, int depth, bool interlaced) {
  std::vector<uint8_t> bytes;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) throw std::runtime_error("encode_png: libpng error");
  png_set_write_fn(png, &bytes, png_append, png_flush);
  png_set_IHDR(png, info, img.width, img.height, depth, color_type,
               interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  std::map<uint32_t, int> index;
  std::vector<png_color> palette;
  if (color_type == PNG_COLOR_TYPE_PALETTE) {
    for (size_t i = 0; i < img.rgb.size(); i += 3) {
      const uint32_t key = img.rgb[i] << 16 | img.rgb[i + 1] << 8 | img.rgb[i + 2];
      if (index.emplace(key, static_cast<int>(palette.size())).second)
        palette.push_back({img.rgb[i], img.rgb[i + 1], img.rgb[i + 2]});
    }
    if (palette.size() > 256) throw std::runtime_error("encode_png: more than 256 colours");
    png_set_PLTE(png, info, palette.data(), static_cast<int>(palette.size()));
  }
  png_write_info(png, info);
  if (depth == 16) png_set_swap(png);  // we fill little-endian 16-bit samples below
  const int channels = color_type == PNG_COLOR_TYPE_GRAY ? 1
                       : color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
                       : color_type == PNG_COLOR_TYPE_RGB ? 3
                       : color_type == PNG_COLOR_TYPE_RGB_ALPHA ? 4 : 1;
  const size_t bps = depth == 16 ? 2 : 1;
  std::vector<std::vector<uint8_t>> rows(img.height, std::vector<uint8_t>(img.width * channels * bps));
  for (int y = 0; y < img.height; ++y) {
    for (int x = 0; x < img.width; ++x) {
      const uint8_t* p = img.at(y, x);
      uint8_t v[4];
      int n = 0;
      if (color_type == PNG_COLOR_TYPE_PALETTE) {
        v[n++] = static_cast<uint8_t>(index[p[0] << 16 | p[1] << 8 | p[2]]);
      } else if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) {
        v[n++] = p[0];
      } else {
        v[n++] = p[0], v[n++] = p[1], v[n++] = p[2];
      }
      if (color_type & PNG_COLOR_MASK_ALPHA) v[n++] = static_cast<uint8_t>((x * 255) / std::max(1, img.width - 1));
      for (int k = 0; k < n; ++k) {
        uint8_t* d = &rows[y][(x * channels + k) * bps];
        if (bps == 2) {
          const unsigned w = v[k] * 257u;
          d[0] = static_cast<uint8_t>(w & 255), d[1] = static_cast<uint8_t>(w >> 8);
        } else {
          d[0] = v[k];
        }
      }
    }
  }
  std::vector<png_bytep> ptrs(img.height);
  for (int y = 0; y < img.height; ++y) ptrs[y] = rows[y].data();
  png_write_image(png, ptrs.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return bytes;
}

std::vector<uint8_t> encode_bmp_bytes(const data::Image& img, int bpp, bool top_down) {
  std::map<uint32_t, int> index;
  std::vector<uint32_t> palette;
  if (bpp == 8) {
    for (size_t i = 0; i < img.rgb.size(); i += 3) {
      const uint32_t key = img.rgb[i] << 16 | img.rgb[i + 1] << 8 | img.rgb[i + 2];
      if (index.emplace(key, static_cast<int>(palette.size())).second) palette.push_back(key);
    }
    if (palette.size() > 256) throw std::runtime_error("encode_bmp_bytes: more than 256 colours");
  }
  const uint32_t stride = ((img.width * bpp + 31) / 32) * 4;
  const uint32_t offset = 54 + 4 * static_cast<uint32_t>(palette.size());
  const uint32_t size = offset + stride * img.height;
  std::vector<uint8_t> b(size, 0);
  auto put32 = [&](size_t at, uint32_t v) {
    for (int k = 0; k < 4; ++k) b[at + k] = static_cast<uint8_t>(v >> (8 * k));
  };
  b[0] = 'B', b[1] = 'M';
  put32(2, size);
  put32(10, offset);
  put32(14, 40);
  put32(18, static_cast<uint32_t>(img.width));
  put32(22, static_cast<uint32_t>(top_down ? -img.height : img.height));
  b[26] = 1;
  b[28] = static_cast<uint8_t>(bpp);
  put32(34, stride * img.height);
  put32(46, static_cast<uint32_t>(palette.size()));
  for (size_t i = 0; i < palette.size(); ++i) put32(54 + 4 * i, palette[i]);  // BGRX little-endian
  for (int y = 0; y < img.height; ++y) {
    uint8_t* row = &b[offset + stride * (top_down ? y : img.height - 1 - y)];
    for (int x = 0; x < img.width; ++x) {
      const uint8_t* p = img.at(y, x);
      if (bpp == 8) {
        row[x] = static_cast<uint8_t>(index[p[0] << 16 | p[1] << 8 | p[2]]);
      } else {
        uint8_t* d = row + x * (bpp / 8);
        d[0] = p[2], d[1] = p[1], d[2] = p[0];
        if (bpp == 32) d[3] = 0x5a;  // ignored by readers (BI_RGB)
      }
    }
  }
  return b;
}

data::Image test_picture(int h, int w) {
  data::Image img;
  img.height = h;
  img.width = w;
  img.rgb.resize(static_cast<size_t>(h) * w * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = img.at(y, x);
      const double dy = y - h / 2.0, dx = x - w / 3.0;
      const bool disc = dx * dx + dy * dy < (h * h) / 10.0;
      p[0] = static_cast<uint8_t>((255 * x) / std::max(1, w - 1));
      p[1] = static_cast<uint8_t>((255 * y) / std::max(1, h - 1));
      p[2] = disc ? 200 : static_cast<uint8_t>(64 + 64 * std::sin(x * 0.2) * std::cos(y * 0.15));
    }
  return img;
}

}  // namespace sadanet::test
