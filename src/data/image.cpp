#include "sadanet/data/image.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>

#include <unistd.h>

#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#define STBI_MAX_DIMENSIONS 16384
#include <stb_image.h>
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

#include "sadanet/error.h"

namespace sadanet::data {

namespace {
uint32_t le32(const uint8_t* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24); }

// stb decodes a truncated uncompressed BMP without complaint (the missing rows come out black),
// so check the pixel array's extent against the file size first.
void check_bmp_complete(const uint8_t* b, size_t n, const std::string& name) {
  if (n < 2 || b[0] != 'B' || b[1] != 'M') return;
  SADANET_CHECK(n >= 34, "image ", name, ": truncated BMP header (", n, " bytes)");
  const uint32_t data_offset = le32(b + 10), dib = le32(b + 14);
  if (dib < 40) return;  // old OS/2 header: let stb judge
  const int64_t w = static_cast<int32_t>(le32(b + 18)), h = static_cast<int32_t>(le32(b + 22));
  const int64_t bpp = b[28] | (b[29] << 8);
  const uint32_t compression = le32(b + 30);
  if (compression != 0 && compression != 3) return;  // RLE: size unknown up front
  const int64_t stride = ((w * bpp + 31) / 32) * 4, need = static_cast<int64_t>(data_offset) + stride * (h < 0 ? -h : h);
  SADANET_CHECK(w > 0 && static_cast<int64_t>(n) >= need, "image ", name, ": truncated BMP (", n,
                " bytes, the header promises ", need, ")");
}
}  // namespace

Image decode_image(const uint8_t* bytes, size_t n, const std::string& name) {
  SADANET_CHECK(n > 0 && n < (size_t{1} << 31), "image ", name, ": expected 1 byte to 2 GiB, got ", n, " bytes");
  check_bmp_complete(bytes, n, name);
  int w = 0, h = 0, c = 0;
  stbi_uc* px = stbi_load_from_memory(bytes, static_cast<int>(n), &w, &h, &c, 3);
  if (!px) throw Error("image " + name + ": cannot decode (" + stbi_failure_reason() + "); expected JPEG, PNG or BMP");
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.assign(px, px + static_cast<size_t>(w) * h * 3);
  stbi_image_free(px);
  return img;
}

Image load_image(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  SADANET_CHECK(f.good(), "image ", path, ": cannot open the file");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return decode_image(bytes.data(), bytes.size(), path);
}

Image resize_bilinear(const Image& src, int oh, int ow) {
  SADANET_CHECK(oh > 0 && ow > 0 && src.width > 0 && src.height > 0, "resize_bilinear: expected positive sizes, got ",
                src.height, "x", src.width, " -> ", oh, "x", ow);
  if (oh == src.height && ow == src.width) return src;
  Image dst;
  dst.height = oh;
  dst.width = ow;
  dst.rgb.resize(static_cast<size_t>(oh) * ow * 3);
  const float sy = static_cast<float>(src.height) / oh, sx = static_cast<float>(src.width) / ow;
  for (int y = 0; y < oh; ++y) {
    float fy = std::max(0.0f, (y + 0.5f) * sy - 0.5f);
    int y0 = std::min(static_cast<int>(fy), src.height - 1), y1 = std::min(y0 + 1, src.height - 1);
    float wy = fy - y0;
    for (int x = 0; x < ow; ++x) {
      float fx = std::max(0.0f, (x + 0.5f) * sx - 0.5f);
      int x0 = std::min(static_cast<int>(fx), src.width - 1), x1 = std::min(x0 + 1, src.width - 1);
      float wx = fx - x0;
      for (int c = 0; c < 3; ++c) {
        float v = (1 - wy) * ((1 - wx) * src.at(y0, x0)[c] + wx * src.at(y0, x1)[c]) +
                  wy * ((1 - wx) * src.at(y1, x0)[c] + wx * src.at(y1, x1)[c]);
        dst.at(y, x)[c] = static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
      }
    }
  }
  return dst;
}

void save_png(const std::string& path, const Image& img) {
  SADANET_CHECK(img.width > 0 && img.height > 0 && img.rgb.size() == static_cast<size_t>(img.width) * img.height * 3,
                "save_png ", path, ": malformed image ", img.height, "x", img.width);
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  if (!stbi_write_png(tmp.c_str(), img.width, img.height, 3, img.rgb.data(), img.width * 3)) {
    std::remove(tmp.c_str());
    throw Error("save_png " + path + ": cannot write the file");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error("save_png " + path + ": cannot move the written file into place");
  }
}

Tensor to_tensor(const Image& img, const float mean[3], const float std[3]) {
  Tensor t = empty({3, img.height, img.width});
  float* d = t.data<float>();
  const size_t plane = static_cast<size_t>(img.height) * img.width;
  for (size_t i = 0; i < plane; ++i)
    for (int c = 0; c < 3; ++c) d[c * plane + i] = (img.rgb[i * 3 + c] / 255.0f - mean[c]) / std[c];
  return t;
}

Tensor to_u8_tensor(const Image& img) {
  Tensor t = empty({3, img.height, img.width}, TensorOptions(DType::u8));
  uint8_t* d = t.data<uint8_t>();
  const size_t plane = static_cast<size_t>(img.height) * img.width;
  for (size_t i = 0; i < plane; ++i)
    for (int c = 0; c < 3; ++c) d[c * plane + i] = img.rgb[i * 3 + c];
  return t;
}

}  // namespace sadanet::data
