// Image decoding against hostile and ordinary files: the red-team JPEG whose DHT declares more
// than 256 codes, dimension bombs (JPEG, PNG, BMP) refused from the header, a sparse 3 GiB file
// refused by size, truncated files, the BMP whose sizes overflowed 64 bits, the scaled JPEG
// decode, round trips of every PNG/BMP layout, symlink loops in a dataset, and the messages.
// Every input is built here; the PIL comparison on real images is in test_image_pil.cpp.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>

#include <fcntl.h>
#include <png.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data_fixtures.h"
#include "image_encoders.h"
#include "sadanet/data/dataset.h"
#include "sadanet/data/image.h"
#include "sadanet/data/loader.h"
#include "sadanet/error.h"

using namespace sadanet;
using namespace sadanet::data;
using sadanet::test::ScratchDir;
namespace fs = std::filesystem;

namespace {

// The message of the sadanet::Error `fn` throws ("" and a failure when it throws none); checks
// the rules every decoder message keeps: it names the file and never has an empty reason.
std::string error_of(const std::function<void()>& fn, const std::string& name = "t") {
  try {
    fn();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(name), std::string::npos) << m;
    EXPECT_EQ(m.find("()"), std::string::npos) << m;
    EXPECT_EQ(m.find(": )"), std::string::npos) << m;
    return m;
  }
  ADD_FAILURE() << "expected a sadanet::Error";
  return "";
}
bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

Image decode(const std::vector<uint8_t>& b, const DecodeOptions& o = {}) { return decode_image(b.data(), b.size(), "t", o); }

// Offset of the first JPEG segment with this marker (its 0xFF), before the scan data; -1 if none.
ptrdiff_t find_segment(const std::vector<uint8_t>& j, uint8_t marker) {
  size_t at = 2;
  while (at + 4 <= j.size() && j[at] == 0xff) {
    if (j[at + 1] == marker) return static_cast<ptrdiff_t>(at);
    if (j[at + 1] == 0xda) break;  // start of scan
    at += 2 + (j[at + 2] << 8 | j[at + 3]);
  }
  return -1;
}

void put_be16(std::vector<uint8_t>& b, size_t at, unsigned v) {
  b[at] = static_cast<uint8_t>(v >> 8), b[at + 1] = static_cast<uint8_t>(v);
}

// A JPEG whose frame header (SOF0/SOF2) declares h x w; the scan data stays that of the small
// picture, so the file ends long before the declared image does.
std::vector<uint8_t> jpeg_declaring(int h, int w, bool progressive = false) {
  test::JpegSpec spec;
  spec.progressive = progressive;
  auto j = test::encode_jpeg(test::test_picture(16, 16), spec);
  const ptrdiff_t sof = find_segment(j, progressive ? 0xc2 : 0xc0);
  EXPECT_GE(sof, 0);
  put_be16(j, sof + 5, h);
  put_be16(j, sof + 7, w);
  return j;
}

uint32_t crc32_of(const uint8_t* p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
  }
  return ~c;
}

// A PNG whose IHDR (with a correct CRC) declares h x w over a small picture's data.
std::vector<uint8_t> png_declaring(uint32_t h, uint32_t w) {
  auto p = test::encode_png(test::test_picture(8, 8), PNG_COLOR_TYPE_RGB);
  auto be32 = [&](size_t at, uint32_t v) {
    for (int k = 0; k < 4; ++k) p[at + k] = static_cast<uint8_t>(v >> (24 - 8 * k));
  };
  be32(16, w);  // IHDR data starts at 16: width, height
  be32(20, h);
  be32(29, crc32_of(&p[12], 17));  // CRC over "IHDR" and its 13 bytes
  return p;
}

// Peak resident memory (MB) and seconds of running fn in a child process, so the parent's own
// footprint does not count. The child's exit status tells whether fn threw sadanet::Error (0).
struct Cost {
  double mb = 0, seconds = 0;
  int status = -1;
};
Cost cost_in_child(const char* what, const std::function<void()>& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    int rc = 1;
    try {
      fn();
    } catch (const Error&) {
      rc = 0;
    } catch (...) {
      rc = 2;
    }
    _exit(rc);
  }
  Cost c;
  int st = 0;
  struct rusage ru {};
  EXPECT_EQ(wait4(pid, &st, 0, &ru), pid);
  c.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  c.mb = ru.ru_maxrss / 1024.0;
  c.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  std::printf("[ cost     ] %s: peak %.0f MB resident (the forked child), %.3f s\n", what, c.mb, c.seconds);
  return c;
}

int max_abs_diff(const Image& a, const Image& b) {
  EXPECT_EQ(a.width, b.width);
  EXPECT_EQ(a.height, b.height);
  if (a.rgb.size() != b.rgb.size()) return 256;
  int d = 0;
  for (size_t i = 0; i < a.rgb.size(); ++i) d = std::max(d, std::abs(a.rgb[i] - b.rgb[i]));
  return d;
}

// The test picture quantised to few colours (for palettes).
Image few_colours(int h, int w) {
  Image img = test::test_picture(h, w);
  for (auto& v : img.rgb) v = static_cast<uint8_t>(v & 0xc0);
  return img;
}

}  // namespace

// ---- the red-team files -----------------------------------------------------------------------

TEST(ImageDecode, HuffmanTableDeclaringMoreThan256CodesIsAnError) {
  // Debian's stb_image 2.27 took this DHT and wrote past its 256-entry tables (SIGSEGV). The
  // segment is rewritten to declare 16 * 255 codes of length 1..16 and really carry them, so only
  // the "> 256" check can catch it.
  auto j = test::encode_jpeg(test::test_picture(16, 16));
  const ptrdiff_t dht = find_segment(j, 0xc4);
  ASSERT_GE(dht, 0);
  const size_t old_len = j[dht + 2] << 8 | j[dht + 3];
  std::vector<uint8_t> seg = {0xff, 0xc4, 0, 0, 0x00};  // class 0 (DC), table 0
  for (int i = 0; i < 16; ++i) seg.push_back(255);
  for (int i = 0; i < 16 * 255; ++i) seg.push_back(static_cast<uint8_t>(i));
  put_be16(seg, 2, static_cast<unsigned>(seg.size() - 2));
  j.erase(j.begin() + dht, j.begin() + dht + 2 + static_cast<ptrdiff_t>(old_len));
  j.insert(j.begin() + dht, seg.begin(), seg.end());
  const std::string m = error_of([&] { decode(j); });
  EXPECT_TRUE(has(m, "Huffman")) << m;

  // And the 1.5 KB shape of the report: counts summing past 256 in a short segment.
  auto k = test::encode_jpeg(test::test_picture(16, 16));
  const ptrdiff_t d2 = find_segment(k, 0xc4);
  for (int i = 0; i < 16; ++i) k[d2 + 5 + i] = 0x80;
  EXPECT_TRUE(has(error_of([&] { decode(k); }), "Huffman"));
}

TEST(ImageDecode, JpegDimensionBombIsRefusedFromTheHeaderCheaply) {
  const auto j = jpeg_declaring(16384, 16384);
  const std::string m = error_of([&] { decode(j); });
  EXPECT_TRUE(has(m, "16384x16384")) << m;
  EXPECT_TRUE(has(m, "above the limit of 67108864")) << m;
  EXPECT_TRUE(has(m, "--max-pixels")) << m;
  const Cost c = cost_in_child("JPEG declaring 16384x16384", [&] { decode(j); });
  EXPECT_EQ(c.status, 0);
  EXPECT_LT(c.seconds, 2.0);
#ifndef SADANET_SANITIZE_BUILD
  EXPECT_LT(c.mb, 200.0);
#endif
  // A raised limit lets the header through; the data then ends at once (no grey image).
  DecodeOptions big;
  big.max_pixels = int64_t{1} << 30;
  EXPECT_TRUE(has(error_of([&] { decode(j, big); }), "premature end of data segment"));
}

TEST(ImageDecode, BombsInsideThePixelLimitCostOnlyWhatTheyHold) {
  // 8192 x 8192 is the default limit exactly: the header passes, the data is 16x16's. The decode
  // must fail on the missing data without committing the 192 MB the header asks for.
  for (bool progressive : {false, true}) {
    const auto j = jpeg_declaring(8192, 8192, progressive);
    const std::string m = error_of([&] { decode(j); });
    EXPECT_TRUE(progressive ? has(m, "decoding memory allowed") : has(m, "premature end")) << m;
    const Cost c = cost_in_child(progressive ? "progressive JPEG declaring 8192x8192" : "JPEG declaring 8192x8192", [&] { decode(j); });
    EXPECT_EQ(c.status, 0) << "progressive " << progressive;
    EXPECT_LT(c.seconds, 2.0) << "progressive " << progressive;
#ifndef SADANET_SANITIZE_BUILD
    EXPECT_LT(c.mb, 200.0) << "progressive " << progressive;
#endif
  }
  const auto p = png_declaring(8192, 8192);
  EXPECT_FALSE(error_of([&] { decode(p); }).empty());
  const Cost c = cost_in_child("PNG declaring 8192x8192", [&] { decode(p); });
  EXPECT_EQ(c.status, 0);
  EXPECT_LT(c.seconds, 2.0);
#ifndef SADANET_SANITIZE_BUILD
  EXPECT_LT(c.mb, 200.0);
#endif
}

TEST(ImageDecode, ProgressiveJpegWithThousandsOfScansIsRefused) {
  // Each scan is a pass over every coefficient: a small file repeating a scan is a CPU bomb at a
  // large size. The first scan (DC, which decodes the same way however often it comes; libjpeg
  // only warns of the odd progression) is repeated 1,100 times.
  auto j = test::encode_jpeg(test::test_picture(16, 16), {80, /*progressive=*/true});
  const ptrdiff_t sos = find_segment(j, 0xda);
  ASSERT_GT(sos, 0);
  size_t end = static_cast<size_t>(sos) + 2 + (j[sos + 2] << 8 | j[sos + 3]);
  while (end + 1 < j.size() && !(j[end] == 0xff && j[end + 1] != 0 && (j[end + 1] < 0xd0 || j[end + 1] > 0xd7))) ++end;
  const std::vector<uint8_t> scan(j.begin() + sos, j.begin() + static_cast<ptrdiff_t>(end));
  std::vector<uint8_t> many(j.begin(), j.begin() + static_cast<ptrdiff_t>(end));
  for (int k = 0; k < 1100; ++k) many.insert(many.end(), scan.begin(), scan.end());
  many.insert(many.end(), j.begin() + static_cast<ptrdiff_t>(end), j.end());
  EXPECT_NO_THROW(decode(j));
  std::vector<uint8_t> few(j.begin(), j.begin() + static_cast<ptrdiff_t>(end));
  for (int k = 0; k < 10; ++k) few.insert(few.end(), scan.begin(), scan.end());
  few.insert(few.end(), j.begin() + static_cast<ptrdiff_t>(end), j.end());
  EXPECT_NO_THROW(decode(few));  // a few repeats are tolerated, as libjpeg does
  const std::string m = error_of([&] { decode(many); });
  EXPECT_TRUE(has(m, "more than 1000 progressive scans")) << m;
}

TEST(ImageDecode, PngDimensionBombIsRefusedFromTheHeader) {
  const auto p = png_declaring(100000, 100000);
  const std::string m = error_of([&] { decode(p); });
  EXPECT_TRUE(has(m, "100000x100000")) << m;
  EXPECT_TRUE(has(m, "above the limit")) << m;
  const Cost c = cost_in_child("PNG declaring 100000x100000", [&] { decode(p); });
  EXPECT_EQ(c.status, 0);
  EXPECT_LT(c.seconds, 2.0);
  // A tighter limit from the caller (--max-pixels) refuses an ordinary image.
  DecodeOptions tight;
  tight.max_pixels = 63;
  EXPECT_TRUE(has(error_of([&] { decode(test::encode_png(test::test_picture(8, 8), PNG_COLOR_TYPE_RGB), tight); }),
                  "8x8 = 64 pixels, above the limit of 63"));
}

TEST(ImageDecode, SparseHugeFileIsRefusedBySizeWithoutBeingRead) {
  ScratchDir dir;
  const std::string path = dir / "huge.jpg";
  {
    const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, int64_t{3} << 30), 0);
    ::close(fd);
  }
  const auto t0 = std::chrono::steady_clock::now();
  const std::string m = error_of([&] { load_image(path); }, path);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 0.5);
  EXPECT_TRUE(has(m, "3221225472 bytes, above the limit of 268435456")) << m;
  EXPECT_TRUE(has(m, "not read")) << m;
  // Not a regular file, missing, empty: each said so.
  EXPECT_TRUE(has(error_of([&] { load_image(dir.path()); }, dir.path()), "not a regular file"));
  EXPECT_TRUE(has(error_of([&] { load_image(dir / "none.png"); }, "none.png"), "No such file"));
  test::write_file(dir / "empty.png", "");
  EXPECT_TRUE(has(error_of([&] { load_image(dir / "empty.png"); }, "empty.png"), "empty"));
}

TEST(ImageDecode, TruncatedFilesAreErrorsNotShortImages) {
  const Image pic = test::test_picture(40, 56);
  const std::vector<std::vector<uint8_t>> files = {
      test::encode_jpeg(pic), test::encode_jpeg(pic, {90, /*progressive=*/true}),
      test::encode_png(pic, PNG_COLOR_TYPE_RGB), test::encode_png(pic, PNG_COLOR_TYPE_RGB, 8, /*interlaced=*/true),
      test::encode_bmp_bytes(pic, 24), test::encode_bmp_bytes(few_colours(40, 56), 8)};
  for (size_t f = 0; f < files.size(); ++f) {
    ASSERT_NO_THROW(decode(files[f])) << "file " << f;
    for (double keep : {0.9, 0.5, 0.1}) {
      std::vector<uint8_t> cut(files[f].begin(), files[f].begin() + static_cast<ptrdiff_t>(files[f].size() * keep));
      const std::string m = error_of([&] { decode(cut); });
      EXPECT_TRUE(has(m, "Premature end") || has(m, "truncated") || has(m, "ends early") ||
                  has(m, "Not enough image data"))
          << "file " << f << " cut to " << keep << ": " << m;
    }
  }
}

TEST(ImageDecode, BmpWithOverflowingSizesIsRefused) {
  // The 68-byte BMP of the report: width and height 2^31 - 1 and 65535 bits per pixel, whose
  // stride * height overflowed int64 in the old check (UBSan: signed overflow).
  std::vector<uint8_t> b(68, 0);
  b[0] = 'B', b[1] = 'M';
  b[10] = 54, b[14] = 40;
  for (int k = 0; k < 4; ++k) b[18 + k] = b[22 + k] = (k == 3 ? 0x7f : 0xff);
  b[26] = 1, b[28] = 0xff, b[29] = 0xff;
  EXPECT_TRUE(has(error_of([&] { decode(b); }), "above the limit"));
  DecodeOptions unlimited;
  unlimited.max_pixels = INT64_MAX;
  EXPECT_TRUE(has(error_of([&] { decode(b, unlimited); }), "above the limit of 4294967296"));
  b[18] = 2, b[19] = b[20] = b[21] = 0, b[22] = 2, b[23] = b[24] = b[25] = 0;  // 2x2, still 65535 bpp
  EXPECT_TRUE(has(error_of([&] { decode(b); }), "65535 bits per pixel"));
  b[28] = 24, b[29] = 0, b[22] = b[23] = b[24] = b[25] = 0xff;  // 2 x -1: one top-down row of 8 bytes
  EXPECT_NO_THROW(decode(b));
  b[22] = b[23] = b[24] = 0, b[25] = 0x80;  // height INT32_MIN: its negation overflows int32
  EXPECT_FALSE(error_of([&] { decode(b); }).empty());
  b[22] = b[23] = b[24] = b[25] = 0xff;
  b[30] = 1;  // RLE8
  EXPECT_TRUE(has(error_of([&] { decode(b); }), "compressed BMP"));
  b[30] = 0, b[14] = 12;  // OS/2 header
  EXPECT_TRUE(has(error_of([&] { decode(b); }), "unsupported BMP header of 12 bytes"));
}

// ---- ordinary files -----------------------------------------------------------------------------

TEST(ImageDecode, BmpLayoutsRoundTripExactly) {
  for (int w : {1, 2, 3, 5, 33}) {
    const Image pic = test::test_picture(7, w), few = few_colours(7, w);
    EXPECT_EQ(max_abs_diff(decode(test::encode_bmp_bytes(pic, 24)), pic), 0) << w;
    EXPECT_EQ(max_abs_diff(decode(test::encode_bmp_bytes(pic, 24, /*top_down=*/true)), pic), 0) << w;
    EXPECT_EQ(max_abs_diff(decode(test::encode_bmp_bytes(pic, 32)), pic), 0) << w;
    EXPECT_EQ(max_abs_diff(decode(test::encode_bmp_bytes(few, 8)), few), 0) << w;
  }
  // The fixtures' own BMP writer (tests/support/data_fixtures.cpp) agrees too.
  ScratchDir dir;
  const Image pic = test::test_picture(9, 13);
  test::write_image(dir / "a.bmp", pic);
  EXPECT_EQ(max_abs_diff(load_image(dir / "a.bmp"), pic), 0);
}

TEST(ImageDecode, PngLayoutsRoundTripToRgb) {
  const Image pic = test::test_picture(11, 17), few = few_colours(11, 17);
  Image grey = pic;
  for (size_t i = 0; i < grey.rgb.size(); i += 3) grey.rgb[i + 1] = grey.rgb[i + 2] = grey.rgb[i];
  for (bool interlaced : {false, true}) {
    for (int depth : {8, 16}) {
      EXPECT_EQ(max_abs_diff(decode(test::encode_png(pic, PNG_COLOR_TYPE_RGB, depth, interlaced)), pic), 0);
      EXPECT_EQ(max_abs_diff(decode(test::encode_png(pic, PNG_COLOR_TYPE_RGB_ALPHA, depth, interlaced)), pic), 0);
      EXPECT_EQ(max_abs_diff(decode(test::encode_png(pic, PNG_COLOR_TYPE_GRAY, depth, interlaced)), grey), 0);
      EXPECT_EQ(max_abs_diff(decode(test::encode_png(pic, PNG_COLOR_TYPE_GRAY_ALPHA, depth, interlaced)), grey), 0);
    }
    EXPECT_EQ(max_abs_diff(decode(test::encode_png(few, PNG_COLOR_TYPE_PALETTE, 8, interlaced)), few), 0);
  }
  ScratchDir dir;
  save_png(dir / "s.png", pic);  // stb_image_write, the engine's own writer
  EXPECT_EQ(max_abs_diff(load_image(dir / "s.png"), pic), 0);
}

TEST(ImageDecode, JpegDecodesCloseToTheEncodedPicture) {
  const Image pic = test::test_picture(48, 64);
  for (bool progressive : {false, true})
    for (bool subsample : {false, true}) {
      test::JpegSpec s;
      s.quality = 95, s.progressive = progressive, s.subsample = subsample;
      const Image back = decode(test::encode_jpeg(pic, s));
      ASSERT_EQ(back.rgb.size(), pic.rgb.size());
      double mean = 0;
      for (size_t i = 0; i < pic.rgb.size(); ++i) mean += std::abs(back.rgb[i] - pic.rgb[i]);
      mean /= static_cast<double>(pic.rgb.size());
      EXPECT_LT(mean, subsample ? 4.0 : 2.0) << progressive << subsample;  // halved chroma blurs the disc edge
      if (!subsample) EXPECT_LE(max_abs_diff(back, pic), 20) << progressive;
    }
  test::JpegSpec g;
  g.grey = true;
  const Image back = decode(test::encode_jpeg(pic, g));
  for (size_t i = 0; i < back.rgb.size(); i += 3) {
    ASSERT_EQ(back.rgb[i], back.rgb[i + 1]);
    ASSERT_EQ(back.rgb[i], back.rgb[i + 2]);
  }
}

TEST(ImageDecode, ScaledJpegDecodeTakesTheSmallestScaleStillCoveringTheHint) {
  const Image pic = test::test_picture(192, 256);
  const auto j = test::encode_jpeg(pic, {95});
  const Image full = decode(j);
  EXPECT_EQ(full.width, 256);
  EXPECT_EQ(full.height, 192);
  auto size_for = [&](int hh, int hw) {
    DecodeOptions o;
    o.hint_height = hh, o.hint_width = hw;
    const Image s = decode(j, o);
    return std::make_pair(s.height, s.width);
  };
  EXPECT_EQ(size_for(24, 32), std::make_pair(24, 32));    // 1/8
  EXPECT_EQ(size_for(25, 32), std::make_pair(48, 64));    // 1/8 is 24 tall: 1/4
  EXPECT_EQ(size_for(48, 60), std::make_pair(48, 64));    // 1/4
  EXPECT_EQ(size_for(96, 100), std::make_pair(96, 128));  // 1/2
  EXPECT_EQ(size_for(100, 100), std::make_pair(192, 256));  // 1/2 is 96 tall: full size
  EXPECT_EQ(size_for(0, 0), std::make_pair(192, 256));    // no hint
  // libjpeg's sizes round up: 1/8 of 100 x 75 is 13 x 10.
  const auto odd = test::encode_jpeg(test::test_picture(75, 100));
  DecodeOptions o;
  o.hint_height = 10, o.hint_width = 13;
  const Image s = decode(odd, o);
  EXPECT_EQ(s.height, 10);
  EXPECT_EQ(s.width, 13);
  // The 1/4 decode is the full picture averaged over 4x4 blocks, within JPEG's error.
  DecodeOptions q;
  q.hint_height = 48, q.hint_width = 64;
  const Image quarter = decode(j, q);
  double err = 0;
  for (int y = 0; y < 48; ++y)
    for (int x = 0; x < 64; ++x)
      for (int c = 0; c < 3; ++c) {
        double m = 0;
        for (int dy = 0; dy < 4; ++dy)
          for (int dx = 0; dx < 4; ++dx) m += full.at(4 * y + dy, 4 * x + dx)[c];
        err += std::abs(m / 16 - quarter.at(y, x)[c]);
      }
  EXPECT_LT(err / (48 * 64 * 3), 4.0);
  // PNG and BMP ignore the hint.
  EXPECT_EQ(decode(test::encode_png(pic, PNG_COLOR_TYPE_RGB), q).width, 256);
  EXPECT_EQ(decode(test::encode_bmp_bytes(pic), q).width, 256);
}

TEST(ImageDecode, MessagesNameTheFormatAndTheReason) {
  const std::vector<uint8_t> text = {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'};
  const std::string m = error_of([&] { decode(text); });
  EXPECT_TRUE(has(m, "not a JPEG, PNG or BMP file (it starts with 68 65 6c 6c 6f 20 77 6f, 11 bytes)")) << m;
  EXPECT_TRUE(has(error_of([&] { decode_image(text.data(), 0, "t"); }), "empty"));
  const std::vector<uint8_t> soi = {0xff, 0xd8, 0xff};
  EXPECT_TRUE(has(error_of([&] { decode(soi); }), "cannot decode the JPEG (header: "));
  const std::vector<uint8_t> sig = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  EXPECT_TRUE(has(error_of([&] { decode(sig); }), "cannot decode the PNG (header: "));
  auto bad_crc = test::encode_png(test::test_picture(4, 4), PNG_COLOR_TYPE_RGB);
  bad_crc[29] ^= 1;
  EXPECT_TRUE(has(error_of([&] { decode(bad_crc); }), "CRC"));
}

// ---- datasets and the loader --------------------------------------------------------------------

TEST(ImageDecode, SymlinkLoopsInADatasetAreSkippedAndReported) {
  ScratchDir dir;
  test::write_image(dir / "labA/basophil/a.png", test::tagged_image(4, 4, 1));
  test::write_image(dir / "labB/basophil/b.png", test::tagged_image(4, 4, 2));
  fs::create_symlink("self.jpg", dir / "labA/basophil/self.jpg");  // ELOOP
  fs::create_symlink("..", dir / "labA/basophil/up");              // a folder loop
  fs::create_symlink("gone.png", dir / "labB/basophil/dangling.png");
  fs::create_symlink("labA", dir / "labA/labA");
  fs::create_symlink("loop", dir / "loop");
  Dataset ds = scan_dataset(dir.path());
  ASSERT_EQ(ds.items.size(), 2u);
  auto warned = [&](const std::string& a, const std::string& b) {
    for (const auto& w : ds.warnings)
      if (has(w, a) && has(w, b)) return true;
    return false;
  };
  EXPECT_TRUE(warned("self.jpg", "cannot be read")) << ::testing::PrintToString(ds.warnings);
  EXPECT_TRUE(warned("dangling.png", "cannot be read")) << ::testing::PrintToString(ds.warnings);
  EXPECT_TRUE(warned("loop (", "cannot be read")) << ::testing::PrintToString(ds.warnings);
}

TEST(ImageDecode, LoaderKeepsTheReasonOfEachUnreadableImage) {
  ScratchDir dir;
  std::vector<Item> items;
  for (int i = 0; i < 30; ++i) {
    Item it;
    it.rel = "d/basophil/" + std::to_string(i) + ".png";
    it.path = dir / it.rel;
    test::write_image(it.path, test::tagged_image(8, 8, i));
    items.push_back(it);
  }
  Item bomb = items[0];
  bomb.rel = "d/basophil/bomb.jpg";
  bomb.path = dir / bomb.rel;
  const auto j = jpeg_declaring(16384, 16384);
  test::write_file(bomb.path, std::string(j.begin(), j.end()));
  items.push_back(bomb);
  LoaderOptions lo;
  lo.mode = LoaderMode::eval;
  lo.size = 8;
  lo.batch = 8;
  BatchLoader loader(items, lo);
  EXPECT_EQ(loader.items().size(), 30u);
  const auto bad = loader.bad_images();
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].path, bomb.path);
  EXPECT_TRUE(has(bad[0].reason, "image " + bomb.path + ": the header declares 16384x16384")) << bad[0].reason;
  // --max-pixels reaches the loader: every 8x8 image is then over the limit.
  lo.decode.max_pixels = 63;
  lo.max_bad_fraction = 1;
  EXPECT_THROW(BatchLoader(items, lo), Error);
}
