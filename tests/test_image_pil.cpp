// The decoders against PIL (python3-pil, Debian's, on the same libjpeg-turbo and zlib): a sample
// of the real white-cell images in ../shared/data/wbc (the first files of every domain and class)
// plus generated PNG, BMP and JPEG files of every layout the readers take. PIL decodes them
// through tools/golden/pil_decode.py; the RGB must agree within kJpegTolerance for JPEG (both
// use libjpeg-turbo's default ISLOW DCT and fancy upsampling; measured: 0, bit-exact) and
// exactly for PNG and BMP. Skips, saying why, where the data or PIL is missing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <png.h>

#include "data_fixtures.h"
#include "image_encoders.h"
#include "sadanet/data/image.h"

using namespace sadanet;
namespace fs = std::filesystem;

namespace {

constexpr int kJpegTolerance = 1;
constexpr int kFilesPerClass = 3;

std::string python() {
  const char* p = std::getenv("PYTHON");
  return p && *p ? p : "/usr/bin/python3";
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void write(const fs::path& p, const std::vector<uint8_t>& b) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

}  // namespace

TEST(ImagePil, DecodesAsPilDoes) {
  if (std::system((python() + " -c 'import PIL' 2>/dev/null").c_str()) != 0)
    GTEST_SKIP() << python() << " has no PIL (apt-get install -y python3-pil)";
  const fs::path wbc = fs::path(SADANET_TEST_DATA_DIR) / "../../shared/data/wbc";
  std::vector<fs::path> files;
  std::error_code ec;
  if (fs::is_directory(wbc, ec)) {
    std::vector<fs::path> classes;
    for (auto& d : fs::directory_iterator(wbc))
      if (d.is_directory())
        for (auto& c : fs::directory_iterator(d.path()))
          if (c.is_directory()) classes.push_back(c.path());
    std::sort(classes.begin(), classes.end());
    for (const auto& c : classes) {
      std::vector<fs::path> in;
      for (auto& f : fs::directory_iterator(c))
        if (f.is_regular_file()) in.push_back(f.path());
      std::sort(in.begin(), in.end());
      in.resize(std::min<size_t>(in.size(), kFilesPerClass));
      files.insert(files.end(), in.begin(), in.end());
    }
  }
  const size_t real = files.size();

  test::ScratchDir dir;
  const data::Image pic = test::test_picture(37, 53);
  data::Image few = pic;
  for (auto& v : few.rgb) v = static_cast<uint8_t>(v & 0xc0);
  const std::vector<std::pair<std::string, std::vector<uint8_t>>> made = {
      {"rgb.png", test::encode_png(pic, PNG_COLOR_TYPE_RGB)},
      {"rgba16-interlaced.png", test::encode_png(pic, PNG_COLOR_TYPE_RGB_ALPHA, 16, true)},
      {"grey.png", test::encode_png(pic, PNG_COLOR_TYPE_GRAY)},
      {"grey-alpha.png", test::encode_png(pic, PNG_COLOR_TYPE_GRAY_ALPHA)},
      {"palette.png", test::encode_png(few, PNG_COLOR_TYPE_PALETTE)},
      {"bgr24.bmp", test::encode_bmp_bytes(pic, 24)},
      {"top-down.bmp", test::encode_bmp_bytes(pic, 24, true)},
      {"bgrx32.bmp", test::encode_bmp_bytes(pic, 32)},
      {"palette8.bmp", test::encode_bmp_bytes(few, 8)},
      {"baseline.jpg", test::encode_jpeg(pic)},
      {"progressive.jpg", test::encode_jpeg(pic, {85, true})},
      {"444.jpg", test::encode_jpeg(pic, {92, false, false, false})},
      {"grey.jpg", test::encode_jpeg(pic, {90, false, true})},
  };
  for (const auto& [name, bytes] : made) {
    write(fs::path(dir.path()) / name, bytes);
    files.push_back(fs::path(dir.path()) / name);
  }
  {
    std::ofstream list(dir / "list.txt");
    for (const auto& f : files) list << f.string() << "\n";
  }
  fs::create_directories(dir / "pil");
  const std::string cmd = python() + " " + SADANET_TEST_DATA_DIR + "/../tools/golden/pil_decode.py " + dir / "list.txt" +
                          " " + dir / "pil";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;

  int worst_jpeg = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    const fs::path base = fs::path(dir / "pil") / std::to_string(i);
    SCOPED_TRACE(files[i].string());
    data::Image ours;
    std::string our_error;
    try {
      ours = data::load_image(files[i].string());
    } catch (const Error& e) {
      our_error = e.what();
    }
    if (fs::exists(base.string() + ".err")) {
      // Both refuse, or it is a real disagreement.
      EXPECT_FALSE(our_error.empty()) << "PIL refuses it (" << slurp(base.string() + ".err") << ") but we decode it";
      continue;
    }
    ASSERT_TRUE(our_error.empty()) << our_error;
    std::istringstream wh(slurp(base.string() + ".txt"));
    int w = 0, h = 0;
    wh >> w >> h;
    ASSERT_EQ(ours.width, w);
    ASSERT_EQ(ours.height, h);
    const std::string theirs = slurp(base.string() + ".rgb");
    ASSERT_EQ(theirs.size(), ours.rgb.size());
    int d = 0;
    for (size_t k = 0; k < theirs.size(); ++k)
      d = std::max(d, std::abs(static_cast<int>(static_cast<uint8_t>(theirs[k])) - ours.rgb[k]));
    const std::string ext = files[i].extension().string();
    const bool jpeg = ext == ".jpg" || ext == ".jpeg" || ext == ".JPG" || ext == ".JPEG";
    if (jpeg) worst_jpeg = std::max(worst_jpeg, d);
    EXPECT_LE(d, jpeg ? kJpegTolerance : 0);
  }
  std::printf("[ pil      ] %zu real images (%s) and %zu generated files; largest JPEG difference %d\n", real,
              real ? wbc.string().c_str() : "not present", made.size(), worst_jpeg);
  if (real == 0) std::printf("[ pil      ] %s is absent: only the generated files were compared\n", wbc.string().c_str());
}
