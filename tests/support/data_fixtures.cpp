#include "data_fixtures.h"

#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "sadanet/error.h"

namespace fs = std::filesystem;

namespace sadanet::test {

ScratchDir::ScratchDir() {
  std::string tmpl = (fs::temp_directory_path() / "sadanet_data_XXXXXX").string();
  SADANET_CHECK(::mkdtemp(tmpl.data()), "cannot create a temporary directory from ", tmpl);
  path_ = tmpl;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

uint64_t fresh_seed(const char* what) {
  uint64_t seed;
  if (const char* env = std::getenv("SADANET_TEST_SEED")) {
    seed = std::stoull(env);
  } else {
    std::random_device rd;
    seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }
  std::cout << "[ seed     ] " << what << ": SADANET_TEST_SEED=" << seed << "\n";
  return seed;
}

data::Image tagged_image(int h, int w, int tag) {
  data::Image img;
  img.height = h;
  img.width = w;
  img.rgb.resize(static_cast<size_t>(h) * w * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = img.at(y, x);
      p[0] = static_cast<uint8_t>(tag & 255);
      p[1] = static_cast<uint8_t>((tag >> 8) & 255);
      p[2] = static_cast<uint8_t>((x * 255) / std::max(1, w - 1));
    }
  return img;
}

namespace {
void put_le(std::string& s, uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 255));
}
// A 24-bit bottom-up BMP.
std::string encode_bmp(const data::Image& img) {
  const uint32_t row = (static_cast<uint32_t>(img.width) * 3 + 3) / 4 * 4;
  const uint32_t size = 54 + row * static_cast<uint32_t>(img.height);
  std::string s = "BM";
  put_le(s, size, 4);
  put_le(s, 0, 4);
  put_le(s, 54, 4);
  put_le(s, 40, 4);
  put_le(s, static_cast<uint32_t>(img.width), 4);
  put_le(s, static_cast<uint32_t>(img.height), 4);
  put_le(s, 1, 2);
  put_le(s, 24, 2);
  put_le(s, 0, 4);
  put_le(s, row * static_cast<uint32_t>(img.height), 4);
  put_le(s, 2835, 4);
  put_le(s, 2835, 4);
  put_le(s, 0, 4);
  put_le(s, 0, 4);
  for (int y = img.height - 1; y >= 0; --y) {
    for (int x = 0; x < img.width; ++x) {
      const uint8_t* p = img.at(y, x);
      s.push_back(static_cast<char>(p[2]));
      s.push_back(static_cast<char>(p[1]));
      s.push_back(static_cast<char>(p[0]));
    }
    s.append(row - static_cast<uint32_t>(img.width) * 3, '\0');
  }
  return s;
}
}  // namespace

void write_image(const std::string& path, const data::Image& img) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  fs::create_directories(fs::path(path).parent_path());
  if (ext == ".bmp") write_file(path, encode_bmp(img));
  else data::save_png(path, img);  // PNG bytes, whatever the extension says (decoders sniff the content)
}

void write_file(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  SADANET_CHECK(f.good(), "cannot write ", path);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  SADANET_CHECK(f.good(), "cannot read ", path);
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

}  // namespace sadanet::test
