// PNG through libpng. Like libjpeg, libpng reports errors by longjmp (png_jmpbuf); the functions
// that call setjmp (read_info_c, read_rows_c) hold only C objects and write into memory the C++
// caller owns, so the jump skips no destructor.
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <vector>

#include <png.h>

#include "data/image_codecs.h"
#include "sadanet/error.h"

namespace sadanet::data::detail {
namespace {

struct Source {
  const uint8_t* bytes;
  size_t n, at;
  char message[256];
};

void on_error(png_structp png, png_const_charp msg) {
  auto* src = static_cast<Source*>(png_get_error_ptr(png));
  std::snprintf(src->message, sizeof src->message, "%s", msg && msg[0] ? msg : "libpng error");
  png_longjmp(png, 1);
}
void on_warning(png_structp, png_const_charp) {}  // benign (bad gamma, unknown chunks)

void read_bytes(png_structp png, png_bytep out, png_size_t want) {
  auto* src = static_cast<Source*>(png_get_io_ptr(png));
  if (want > src->n - src->at) png_error(png, "the file ends early (truncated)");
  std::memcpy(out, src->bytes + src->at, want);
  src->at += want;
}

struct Session {
  png_structp png = nullptr;
  png_infop info = nullptr;
  Source src{};
  ~Session() { png_destroy_read_struct(&png, info ? &info : nullptr, nullptr); }
};

bool read_info_c(Session* s) {
  if (setjmp(png_jmpbuf(s->png))) return false;
  png_set_read_fn(s->png, &s->src, read_bytes);
  // Text, ICC and other ancillary chunks are inflated into memory: bound them (zTXt bombs).
  png_set_chunk_malloc_max(s->png, 8u << 20);
  // libpng's own side limit (1,000,000) lifted so that check_pixels is the one that speaks.
  png_set_user_limits(s->png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  // Lets mutations past the CRCs and Adler sums; never defined in a normal build.
  png_set_crc_action(s->png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
#ifdef PNG_IGNORE_ADLER32
  png_set_option(s->png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
#endif
#endif
  png_read_info(s->png, s->info);
  return true;
}

bool set_rgb_c(Session* s) {
  if (setjmp(png_jmpbuf(s->png))) return false;
  // Whatever the colour type and depth, 8-bit RGB: palettes and low depths expanded, 16 bits
  // truncated to their high byte, grey copied to three channels, alpha dropped (as PIL's
  // convert("RGB"), no compositing).
  png_set_expand(s->png);
  png_set_strip_16(s->png);
  png_set_gray_to_rgb(s->png);
  png_set_strip_alpha(s->png);
  png_set_interlace_handling(s->png);
  png_read_update_info(s->png, s->info);
  return true;
}

// Interlaced: every pass touches every row, so the whole buffer is needed at once.
bool read_image_c(Session* s, png_bytepp rows) {
  if (setjmp(png_jmpbuf(s->png))) return false;
  png_read_image(s->png, rows);
  return true;
}

// Not interlaced: rows appended as they come (the capacity reserved by the caller), so a file
// that declares a large image and then ends costs only the rows it holds.
bool read_rows_c(Session* s, std::vector<uint8_t>* out, size_t rowbytes, size_t height) {
  if (setjmp(png_jmpbuf(s->png))) return false;
  for (size_t y = 0; y < height; ++y) {
    out->resize((y + 1) * rowbytes);
    png_read_row(s->png, out->data() + y * rowbytes, nullptr);
  }
  return true;
}

}  // namespace

Image decode_png(const uint8_t* bytes, size_t n, const std::string& name, const DecodeOptions& opts) {
  Session s;
  s.src = Source{bytes, n, 0, {0}};
  s.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s.src, on_error, on_warning);
  SADANET_CHECK(s.png, "image ", name, ": libpng cannot start (out of memory)");
  s.info = png_create_info_struct(s.png);
  SADANET_CHECK(s.info, "image ", name, ": libpng cannot start (out of memory)");
  auto fail = [&](const char* stage) {
    throw Error("image " + name + ": cannot decode the PNG (" + stage + ": " + s.src.message + ")");
  };
  if (!read_info_c(&s)) fail("header");
  check_pixels(png_get_image_width(s.png, s.info), png_get_image_height(s.png, s.info), name, opts);
  if (!set_rgb_c(&s)) fail("colour conversion");
  const size_t rowbytes = png_get_rowbytes(s.png, s.info);
  Image img;
  img.width = static_cast<int>(png_get_image_width(s.png, s.info));
  img.height = static_cast<int>(png_get_image_height(s.png, s.info));
  SADANET_CHECK(rowbytes == static_cast<size_t>(img.width) * 3, "image ", name, ": libpng gives ", rowbytes,
                " bytes a row, expected ", img.width * 3);
  if (png_get_interlace_type(s.png, s.info) == PNG_INTERLACE_NONE) {
    img.rgb.reserve(rowbytes * img.height);
    if (!read_rows_c(&s, &img.rgb, rowbytes, static_cast<size_t>(img.height))) fail("pixels");
  } else {
    img.rgb.resize(rowbytes * img.height);
    std::vector<png_bytep> rows(img.height);
    for (int y = 0; y < img.height; ++y) rows[y] = img.rgb.data() + rowbytes * y;
    if (!read_image_c(&s, rows.data())) fail("pixels");
  }
  return img;
}

}  // namespace sadanet::data::detail
