// A deterministic miniature of the libFuzzer runs (tests/fuzz): thousands of mutations of every
// weights fixture, of two seeds built here and of every image seed (bit flips, interesting values,
// truncations, deleted/duplicated/inserted ranges) go through each reader or decoder, which may
// accept them or throw sadanet::Error but must never crash, hang or throw anything else. The seed
// is fixed so a failure reproduces.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <random>

#include <png.h>

#include "image_encoders.h"
#include "io_fixtures.h"
#include "sadanet/data/image.h"
#include "sadanet/io/pth.h"
#include "sadanet/io/weights.h"
#include "sadanet/sadanet.h"
#include "zip_builder.h"

namespace sadanet {
namespace {

constexpr int kMutationsPerFixture = 2000;

std::vector<uint8_t> mutate(std::vector<uint8_t> b, std::mt19937_64& rng, std::string& how) {
  auto pick = [&](size_t n) { return n ? static_cast<size_t>(rng() % n) : 0; };
  static const uint64_t interesting[] = {0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0xffffffff,
                                         0xffffffffffffffff, 0x8000000000000000};
  int rounds = 1 + static_cast<int>(pick(3));
  for (int r = 0; r < rounds && !b.empty(); ++r) {
    size_t at = pick(b.size());
    switch (pick(6)) {
      case 0:
        b[at] ^= static_cast<uint8_t>(1u << pick(8));
        how += " flip@" + std::to_string(at);
        break;
      case 1: {  // an interesting little-endian integer of 1, 2, 4 or 8 bytes
        uint64_t v = interesting[pick(std::size(interesting))];
        size_t width = size_t{1} << pick(4);
        for (size_t k = 0; k < width && at + k < b.size(); ++k) b[at + k] = static_cast<uint8_t>(v >> (8 * k));
        how += " int" + std::to_string(width) + "@" + std::to_string(at);
        break;
      }
      case 2:
        b.resize(at);
        how += " cut@" + std::to_string(at);
        break;
      case 3: {
        size_t n = std::min(b.size() - at, 1 + pick(16));
        b.erase(b.begin() + static_cast<std::ptrdiff_t>(at), b.begin() + static_cast<std::ptrdiff_t>(at + n));
        how += " del@" + std::to_string(at);
        break;
      }
      case 4: {
        size_t n = std::min(b.size() - at, 1 + pick(16));
        std::vector<uint8_t> chunk(b.begin() + static_cast<std::ptrdiff_t>(at),
                                   b.begin() + static_cast<std::ptrdiff_t>(at + n));
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(pick(b.size())), chunk.begin(), chunk.end());
        how += " dup@" + std::to_string(at);
        break;
      }
      default:
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), static_cast<uint8_t>(rng()));
        how += " ins@" + std::to_string(at);
        break;
    }
  }
  return b;
}

// Runs every reader on the bytes; returns "" or what escaped other than sadanet::Error.
std::string run_readers(const std::vector<uint8_t>& b) {
  const std::function<void()> readers[] = {
      [&] { io::read_safetensors_bytes(b.data(), b.size()); },
      [&] { io::load_pth_bytes(b.data(), b.size()); },
      [&] { io::load_weights_bytes(b.data(), b.size()); },
  };
  for (auto& read : readers) {
    try {
      read();
    } catch (const Error&) {
    } catch (const std::exception& e) {
      return std::string("non-sadanet exception: ") + e.what();
    } catch (...) {
      return "unknown exception";
    }
  }
  return "";
}

TEST(IoFuzzSmoke, MutatedFixturesOnlyEverThrowSadanetErrors) {
  std::vector<std::pair<std::string, std::vector<uint8_t>>> seeds;
  for (auto& e : std::filesystem::directory_iterator(test::io_fixture("")))
    if (e.path().extension() != ".json")
      seeds.emplace_back(e.path().filename().string(), test::read_bytes(e.path().string()));
  std::sort(seeds.begin(), seeds.end());
  ASSERT_GE(seeds.size(), 8u);
  // Built here: a file sadanet wrote (its checksum refuses nearly every mutation) and a zip whose
  // entries overlap (refused from the directory).
  seeds.emplace_back("checksummed.safetensors",
                     io::safetensors_bytes({{"w", from_vector<float>({1, 2, 3, 4}, {2, 2})}, {"n", zeros({3}, DType::i64)}},
                                           {{"format", "pt"}}));
  seeds.emplace_back("overlapping_zip.pth", test::overlapping_zip().bytes());
  for (const auto& [name, original] : seeds) {
    std::mt19937_64 rng(std::hash<std::string>{}(name) ^ 0x5ada);
    EXPECT_EQ(run_readers(original), "") << name;
    for (int i = 0; i < kMutationsPerFixture; ++i) {
      std::string how;
      std::vector<uint8_t> m = mutate(original, rng, how);
      std::string bad = run_readers(m);
      ASSERT_EQ(bad, "") << name << " mutation " << i << ":" << how;
    }
  }
}

// The image seeds of the libFuzzer run (tests/fuzz/image_seeds, written by PIL) and layouts PIL
// does not write: interlaced and 16-bit PNG, top-down BMP, 4:4:4 progressive JPEG.
std::vector<std::pair<std::string, std::vector<uint8_t>>> image_seeds() {
  std::vector<std::pair<std::string, std::vector<uint8_t>>> seeds;
  const std::filesystem::path dir = std::filesystem::path(SADANET_TEST_DATA_DIR) / "fuzz/image_seeds";
  for (auto& e : std::filesystem::directory_iterator(dir))
    seeds.emplace_back(e.path().filename().string(), test::read_bytes(e.path().string()));
  const data::Image pic = test::test_picture(10, 13);
  seeds.emplace_back("made/interlaced16.png", test::encode_png(pic, PNG_COLOR_TYPE_RGB_ALPHA, 16, true));
  seeds.emplace_back("made/top-down.bmp", test::encode_bmp_bytes(pic, 24, true));
  seeds.emplace_back("made/progressive444.jpg", test::encode_jpeg(pic, {80, true, false, false}));
  std::sort(seeds.begin(), seeds.end());
  return seeds;
}

TEST(IoFuzzSmoke, MutatedImagesOnlyEverThrowSadanetErrors) {
  const auto seeds = image_seeds();
  ASSERT_GE(seeds.size(), 12u);
  data::DecodeOptions limits;
  limits.max_pixels = 4 << 20;  // as the libFuzzer harness: a mutated header costs a few MB at most
  for (const auto& [name, original] : seeds) {
    std::mt19937_64 rng(std::hash<std::string>{}(name) ^ 0x1a6e);
    EXPECT_NO_THROW(data::decode_image(original.data(), original.size(), name, limits)) << name;
    for (int i = 0; i < kMutationsPerFixture; ++i) {
      std::string how;
      std::vector<uint8_t> m = mutate(original, rng, how);
      data::DecodeOptions o = limits;
      if (i % 2) o.hint_height = o.hint_width = 1 + static_cast<int>(rng() % 16);  // scaled JPEG paths
      std::string bad;
      try {
        data::Image img = data::decode_image(m.data(), m.size(), name, o);
        if (img.rgb.size() != static_cast<size_t>(img.width) * img.height * 3) bad = "wrong pixel count";
      } catch (const Error& e) {
        if (std::string(e.what()).find("()") != std::string::npos) bad = std::string("empty reason: ") + e.what();
      } catch (const std::exception& e) {
        bad = std::string("non-sadanet exception: ") + e.what();
      } catch (...) {
        bad = "unknown exception";
      }
      ASSERT_EQ(bad, "") << name << " mutation " << i << ":" << how;
    }
  }
}

}  // namespace
}  // namespace sadanet
