// JPEG through libjpeg-turbo. libjpeg reports errors by calling error_exit, which must not
// return; we longjmp back out of it. The functions that call setjmp (read_header_c, set_scale_c,
// read_pixels_c) hold only C objects, and the C++ caller owns the memory they write into, so no
// destructor is ever skipped by the jump (the jumps start inside libjpeg's C frames).
#include <algorithm>
#include <climits>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <vector>

#include <jpeglib.h>
#include <jerror.h>  // after jpeglib.h, which it needs

#include "data/image_codecs.h"
#include "sadanet/error.h"

namespace sadanet::data::detail {
namespace {

struct ErrorMgr {
  jpeg_error_mgr pub;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void on_error(j_common_ptr c) {
  auto* e = reinterpret_cast<ErrorMgr*>(c->err);
  (*c->err->format_message)(c, e->message);
  if (!e->message[0]) std::snprintf(e->message, sizeof e->message, "libjpeg error %d", c->err->msg_code);
  std::longjmp(e->jump, 1);
}

// Warnings (level -1) are corrupt data that libjpeg papers over with grey blocks. Those that mean
// the entropy-coded data is short or broken are refused: a file that ends early (or whose scan
// runs into the next marker, as when a forged header declares more rows than the data holds)
// is an error, as in PIL for a file cut short, not an image with grey rows. The benign ones
// (extraneous bytes between markers, which real cameras write) and trace messages are ignored.
void on_message(j_common_ptr c, int level) {
  const int code = c->err->msg_code;
  if (level == -1 && (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_HUFF_BAD_CODE ||
                      code == JWRN_MUST_RESYNC))
    on_error(c);
}

// A progressive file may hold any number of scans, each a pass over the whole coefficient
// buffer: a small file of thousands of empty scans costs minutes. Real encoders write about 10
// (djpeg's -maxscans guards the same way).
constexpr int kMaxScans = 1000;
void on_progress(j_common_ptr c) {
  auto* d = reinterpret_cast<j_decompress_ptr>(c);
  if (d->input_scan_number > kMaxScans) {
    auto* e = reinterpret_cast<ErrorMgr*>(c->err);
    std::snprintf(e->message, sizeof e->message, "more than %d progressive scans", kMaxScans);
    std::longjmp(e->jump, 1);
  }
}

struct Session {
  jpeg_decompress_struct cinfo;
  ErrorMgr err;
  jpeg_progress_mgr progress;
  bool created = false;
  ~Session() {
    if (created) jpeg_destroy_decompress(&cinfo);
  }
};

// Each returns false with err.message set on failure. The header, up to the first scan:
bool read_header_c(Session* s, const uint8_t* bytes, size_t n, long max_memory) {
  s->cinfo.err = jpeg_std_error(&s->err.pub);
  s->err.pub.error_exit = on_error;
  s->err.pub.emit_message = on_message;
  s->err.message[0] = 0;
  if (setjmp(s->err.jump)) return false;
  jpeg_create_decompress(&s->cinfo);
  s->created = true;
  // Progressive files keep every coefficient in memory; with this bound libjpeg refuses (it has
  // no backing store) rather than allocating what a forged header asks for.
  s->cinfo.mem->max_memory_to_use = max_memory;
  s->progress.progress_monitor = on_progress;
  s->cinfo.progress = &s->progress;
  jpeg_mem_src(&s->cinfo, bytes, static_cast<unsigned long>(n));
  jpeg_read_header(&s->cinfo, TRUE);
  return true;
}

// RGB output at 1/denom scale:
bool set_scale_c(Session* s, unsigned denom) {
  if (setjmp(s->err.jump)) return false;
  s->cinfo.out_color_space = JCS_RGB;
  s->cinfo.scale_num = 1;
  s->cinfo.scale_denom = denom;
  jpeg_calc_output_dimensions(&s->cinfo);
  return true;
}

// The pixels, appended to *out as they come (its capacity reserved by the caller), so
// that a file which declares a large image and then ends costs the rows it really holds, not
// the whole buffer: untouched reserved pages are never committed.
bool read_pixels_c(Session* s, std::vector<uint8_t>* out) {
  if (setjmp(s->err.jump)) return false;
  jpeg_start_decompress(&s->cinfo);
  if (s->cinfo.output_components != 3) {
    std::snprintf(s->err.message, sizeof s->err.message, "expected 3 colour components after conversion, got %d",
                  s->cinfo.output_components);
    return false;
  }
  const size_t stride = static_cast<size_t>(s->cinfo.output_width) * 3;
  JSAMPROW rows[16];
  while (s->cinfo.output_scanline < s->cinfo.output_height) {
    const size_t at = s->cinfo.output_scanline;
    const size_t k = std::min<size_t>(16, s->cinfo.output_height - at);
    out->resize((at + k) * stride);
    for (size_t i = 0; i < k; ++i) rows[i] = out->data() + (at + i) * stride;
    jpeg_read_scanlines(&s->cinfo, rows, static_cast<JDIMENSION>(k));
  }
  jpeg_finish_decompress(&s->cinfo);
  return true;
}

}  // namespace

Image decode_jpeg(const uint8_t* bytes, size_t n, const std::string& name, const DecodeOptions& opts) {
  Session s;
  // libjpeg's working memory: 2 bytes per allowed pixel and 16 MB. Progressive files hold all
  // their coefficients (3 bytes a pixel at 4:2:0, 6 at 4:4:4), so the largest ones at the pixel
  // limit are refused with a message rather than doubling what a decode may cost.
  const int64_t budget = 2 * std::min<int64_t>(opts.max_pixels, int64_t{1} << 32) + (int64_t{16} << 20);
  const long max_memory = budget > static_cast<int64_t>(LONG_MAX) ? LONG_MAX : static_cast<long>(budget);
  auto fail = [&](const char* stage) {
    if (s.err.pub.msg_code == JERR_NO_BACKING_STORE)
      throw Error("image " + name + ": the JPEG (" + std::to_string(s.cinfo.image_width) + "x" +
                  std::to_string(s.cinfo.image_height) + (s.cinfo.progressive_mode ? ", progressive" : "") +
                  ") needs more than the " + std::to_string(max_memory >> 20) +
                  " MB of decoding memory allowed (2 bytes per pixel of --max-pixels, plus 16 MB)");
    throw Error("image " + name + ": cannot decode the JPEG (" + stage + ": " + s.err.message + ")");
  };
  if (!read_header_c(&s, bytes, n, max_memory)) fail("header");
  const int64_t w = s.cinfo.image_width, h = s.cinfo.image_height;
  check_pixels(w, h, name, opts);
  if (s.cinfo.jpeg_color_space == JCS_CMYK || s.cinfo.jpeg_color_space == JCS_YCCK)
    throw Error("image " + name + ": a CMYK JPEG; expected greyscale, RGB or YCbCr");
  unsigned denom = 1;
  if (opts.hint_height > 0 && opts.hint_width > 0) {
    // libjpeg's scaled size is ceil(side / denom).
    for (unsigned d : {8u, 4u, 2u}) {
      if ((w + d - 1) / d >= opts.hint_width && (h + d - 1) / d >= opts.hint_height) {
        denom = d;
        break;
      }
    }
  }
  if (!set_scale_c(&s, denom)) fail("colour conversion");
  Image img;
  img.width = static_cast<int>(s.cinfo.output_width);
  img.height = static_cast<int>(s.cinfo.output_height);
  img.rgb.reserve(static_cast<size_t>(img.width) * img.height * 3);
  if (!read_pixels_c(&s, &img.rgb)) fail("pixels");
  SADANET_CHECK(img.rgb.size() == static_cast<size_t>(img.width) * img.height * 3, "image ", name,
                ": libjpeg returned ", img.rgb.size(), " bytes, expected ", img.width, "x", img.height, "x3");
  return img;
}

}  // namespace sadanet::data::detail
