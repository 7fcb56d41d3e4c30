// The zip reader's layout checks on archives built here byte by byte: overlapping entries (a
// small file whose entries all cover the same bytes, which cost minutes of CRC work) and entries
// out of directory order are refused before any CRC is computed; a plain archive reads.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "io/zip_reader.h"
#include "zip_builder.h"
#include "sadanet/error.h"
#include "sadanet/io/pth.h"

namespace sadanet {
namespace {

using test::Zip;

std::string zip_error(const std::vector<uint8_t>& bytes) {
  try {
    io::ZipReader z(bytes.data(), bytes.size());
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ZipReader, ReadsEntriesLaidOutInOrder) {
  Zip z;
  z.add("archive/a", "first");
  z.add("archive/b", "second");
  auto bytes = z.bytes();
  io::ZipReader r(bytes.data(), bytes.size());
  ASSERT_EQ(r.entries().size(), 2u);
  EXPECT_EQ(r.read(*r.find("archive/b")), "second");
  EXPECT_EQ(r.entries()[1].header_offset, z.entries[1].header_offset);
}

TEST(ZipReader, OverlappingEntriesAreRefused) {
  Zip z = test::overlapping_zip();
  std::string msg = zip_error(z.bytes());
  EXPECT_NE(msg.find("zip entries 'archive/a' and 'archive/b' overlap"), std::string::npos) << msg;
}

TEST(ZipReader, EntriesOutOfDirectoryOrderAreRefused) {
  Zip z;
  z.add("archive/a", "first");
  z.add("archive/b", "second");
  std::swap(z.entries[0], z.entries[1]);
  std::string msg = zip_error(z.bytes());
  EXPECT_NE(msg.find("'archive/a' (local header at 0) is listed after 'archive/b'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("out of order"), std::string::npos) << msg;
}

// The red team's shape: many entries whose data all cover one large tail, so each CRC reads most
// of the file. Refused from the directory alone, in milliseconds, before any CRC.
TEST(ZipReader, OverlapBombIsRefusedBeforeAnyCrc) {
  constexpr int kEntries = 2000;
  const std::string tail(4 << 20, 'x');
  uint64_t headers_size = 0;
  for (int i = 0; i < kEntries; ++i)
    headers_size += 30 + (i == 0 ? std::string("archive/data.pkl") : "archive/data/" + std::to_string(i)).size();
  Zip z;
  uint64_t at = 0;
  for (int i = 0; i < kEntries; ++i) {
    const std::string name = i == 0 ? "archive/data.pkl" : "archive/data/" + std::to_string(i);
    const uint64_t size = headers_size - at - 30 - name.size() + tail.size();  // to the end of the tail
    auto h = Zip::local_header(name, size, 0);
    z.entries.push_back({name, at, size, 0});
    z.body.insert(z.body.end(), h.begin(), h.end());
    at += h.size();
  }
  z.body.insert(z.body.end(), tail.begin(), tail.end());
  const auto bytes = z.bytes();
  EXPECT_NE(zip_error(bytes).find("zip entries 'archive/data.pkl' and 'archive/data/1' overlap"), std::string::npos)
      << zip_error(bytes);
  const auto t0 = std::chrono::steady_clock::now();
  std::string msg;
  try {
    io::load_pth_bytes(bytes.data(), bytes.size(), "bomb.pth");
  } catch (const Error& e) {
    msg = e.what();
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%zu-byte archive, %d overlapping entries: refused in %.4f s\n", bytes.size(), kEntries, s);
  EXPECT_NE(msg.find("overlap"), std::string::npos) << msg;
  EXPECT_NE(msg.find("bomb.pth"), std::string::npos) << msg;
  EXPECT_LT(s, 1.0);  // the old reader's CRCs alone: 2000 x 4 MiB
}

}  // namespace
}  // namespace sadanet
