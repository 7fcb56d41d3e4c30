#include "sadanet/data/image.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

#include "data/image_codecs.h"
#include "sadanet/error.h"
#include "sadanet/io/files.h"

namespace sadanet::data {

namespace detail {
void check_pixels(int64_t width, int64_t height, const std::string& name, const DecodeOptions& opts) {
  // Past 2^32 pixels no limit is meaningful, and 64-bit sizes of rows and buffers stay exact.
  constexpr int64_t kHardLimit = int64_t{1} << 32;
  const int64_t limit = std::min(opts.max_pixels, kHardLimit);
  SADANET_CHECK(width > 0 && height > 0, "image ", name, ": the header declares ", width, "x", height,
                " pixels; expected positive sizes");
  SADANET_CHECK(width * height <= limit, "image ", name, ": the header declares ", width, "x", height, " = ",
                width * height, " pixels, above the limit of ", limit, " (--max-pixels); not decoded");
}
}  // namespace detail

namespace {
std::string hex_prefix(const uint8_t* b, size_t n) {
  std::string s;
  char buf[4];
  for (size_t i = 0; i < std::min<size_t>(n, 8); ++i) {
    std::snprintf(buf, sizeof buf, "%s%02x", i ? " " : "", b[i]);
    s += buf;
  }
  return s;
}
}  // namespace

Image decode_image(const uint8_t* bytes, size_t n, const std::string& name, const DecodeOptions& opts) {
  SADANET_CHECK(n > 0, "image ", name, ": the file is empty");
  SADANET_CHECK(static_cast<int64_t>(n) <= opts.max_file_bytes, "image ", name, ": ", n, " bytes, above the limit of ",
                opts.max_file_bytes, " bytes for an image file");
  SADANET_CHECK(opts.max_pixels > 0, "image ", name, ": expected max_pixels > 0, got ", opts.max_pixels);
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (n >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff) return detail::decode_jpeg(bytes, n, name, opts);
  if (n >= 8 && std::memcmp(bytes, kPng, 8) == 0) return detail::decode_png(bytes, n, name, opts);
  if (n >= 2 && bytes[0] == 'B' && bytes[1] == 'M') return detail::decode_bmp(bytes, n, name, opts);
  throw Error("image " + name + ": not a JPEG, PNG or BMP file (it starts with " + hex_prefix(bytes, n) + ", " +
              std::to_string(n) + " bytes)");
}

Image load_image(const std::string& path, const DecodeOptions& opts) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  SADANET_CHECK(fd >= 0, "image ", path, ": cannot open the file (", std::strerror(errno), ")");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  // The size comes from fstat before a byte is read, so a huge (or sparse) file costs nothing.
  struct stat st {};
  SADANET_CHECK(::fstat(fd, &st) == 0, "image ", path, ": cannot stat the file (", std::strerror(errno), ")");
  SADANET_CHECK(S_ISREG(st.st_mode), "image ", path, ": not a regular file");
  const int64_t size = st.st_size;
  SADANET_CHECK(size <= opts.max_file_bytes, "image ", path, ": ", size, " bytes, above the limit of ",
                opts.max_file_bytes, " bytes for an image file; not read");
  SADANET_CHECK(size > 0, "image ", path, ": the file is empty");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t r = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (r < 0 && errno == EINTR) continue;
    SADANET_CHECK(r >= 0, "image ", path, ": cannot read the file (", std::strerror(errno), ")");
    if (r == 0) break;  // shrank since fstat: decode what is there
    got += static_cast<size_t>(r);
  }
  bytes.resize(got);
  return decode_image(bytes.data(), bytes.size(), path, opts);
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
  // Encoded in memory, then written atomically without following a link at `path` (sheets and
  // confusion matrices go into run folders; see io/files.h).
  std::string png;
  auto append = [](void* ctx, void* data, int n) { static_cast<std::string*>(ctx)->append(static_cast<char*>(data), n); };
  if (!stbi_write_png_to_func(append, &png, img.width, img.height, 3, img.rgb.data(), img.width * 3))
    throw Error("save_png " + path + ": the PNG encoder failed");
  io::write_file_atomic(path, png);
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
