#include "io/zip_reader.h"

#include <array>

#include "io/byte_reader.h"

namespace sadanet::io {

namespace {

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50;
constexpr uint32_t kEnd64Sig = 0x06064b50, kLocator64Sig = 0x07064b50;
constexpr size_t kEndSize = 22, kLocatorSize = 20, kEnd64Size = 56, kCentralSize = 46, kLocalSize = 30;
constexpr uint16_t kZip64ExtraId = 0x0001;

struct Directory {
  uint64_t entries = 0, offset = 0, size = 0;
  uint64_t end = 0;  // where the records after the central directory begin
};

// The end-of-central-directory record is found by scanning back over a possible comment; the
// candidate is accepted only if its comment ends exactly at the end of the file.
size_t find_end_record(const uint8_t* data, size_t size) {
  SADANET_CHECK(size >= kEndSize, "file is ", size, " bytes, too short for a zip archive");
  size_t lowest = size - kEndSize > 0xffff ? size - kEndSize - 0xffff : 0;
  for (size_t pos = size - kEndSize + 1; pos-- > lowest;) {
    ByteReader r(data, size, pos);
    if (r.u32("signature") != kEndSig) continue;
    r.seek(pos + 20, "comment length");
    if (pos + kEndSize + r.u16("comment length") == size) return pos;
  }
  throw Error("no zip end-of-central-directory record (not a zip file, or truncated)");
}

Directory read_directory(const uint8_t* data, size_t size) {
  size_t end_pos = find_end_record(data, size);
  ByteReader r(data, size, end_pos + 4);
  uint16_t disk = r.u16("disk number"), cd_disk = r.u16("directory disk");
  uint16_t n_disk = r.u16("entry count"), n_total = r.u16("entry count");
  const uint32_t size32 = r.u32("directory size"), offset32 = r.u32("directory offset");
  Directory d{n_total, offset32, size32, end_pos};

  // ZIP64: a locator just before the end record points at the 64-bit end record.
  if (end_pos >= kLocatorSize && ByteReader(data, size, end_pos - kLocatorSize).u32("signature") == kLocator64Sig) {
    ByteReader loc(data, size, end_pos - kLocatorSize + 4);
    uint32_t loc_disk = loc.u32("ZIP64 locator disk");
    uint64_t end64 = loc.u64("ZIP64 end record offset");
    uint32_t disks = loc.u32("ZIP64 disk count");
    SADANET_CHECK(loc_disk == 0 && disks <= 1, "multi-disk zip archives are not supported");
    SADANET_CHECK(range_fits(end64, kEnd64Size, end_pos - kLocatorSize), "ZIP64 end record offset ", end64,
                  " is outside the file");
    ByteReader e(data, size, end64);
    SADANET_CHECK(e.u32("ZIP64 signature") == kEnd64Sig, "bad ZIP64 end record signature at offset ", end64);
    e.u64("ZIP64 record size");
    e.u16("version");
    e.u16("version needed");
    uint32_t disk64 = e.u32("ZIP64 disk"), cd_disk64 = e.u32("ZIP64 directory disk");
    SADANET_CHECK(disk64 == 0 && cd_disk64 == 0, "multi-disk zip archives are not supported");
    uint64_t n_disk64 = e.u64("ZIP64 entry count");
    d.entries = e.u64("ZIP64 entry count");
    SADANET_CHECK(n_disk64 == d.entries, "multi-disk zip archives are not supported");
    d.size = e.u64("ZIP64 directory size");
    d.offset = e.u64("ZIP64 directory offset");
    d.end = end64;
    // torch fills the 32-bit fields too; each must be the ZIP64 marker or agree with the record.
    SADANET_CHECK((n_total == 0xffff || n_total == d.entries) && (n_disk == 0xffff || n_disk == d.entries) &&
                      (size32 == 0xffffffff || size32 == d.size) && (offset32 == 0xffffffff || offset32 == d.offset),
                  "end-of-central-directory record disagrees with the ZIP64 record");
  } else {
    SADANET_CHECK(disk == 0 && cd_disk == 0 && n_disk == n_total, "multi-disk zip archives are not supported");
  }
  SADANET_CHECK(range_fits(d.offset, d.size, d.end), "central directory [", d.offset, ", +", d.size,
                ") is outside the file");
  SADANET_CHECK(d.entries <= d.size / kCentralSize, "central directory of ", d.size, " bytes cannot hold ",
                d.entries, " entries");
  return d;
}

// Values the 32-bit fields mark with 0xffffffff are in the ZIP64 extra field, in this order.
void apply_zip64_extra(std::string_view extra, uint64_t& usize, uint64_t& csize, uint64_t& offset) {
  ByteReader r(reinterpret_cast<const uint8_t*>(extra.data()), extra.size());
  while (r.remaining() >= 4) {
    uint16_t id = r.u16("extra field id"), len = r.u16("extra field size");
    ByteReader field(r.take(len, "extra field"), len);
    if (id != kZip64ExtraId) continue;
    if (usize == 0xffffffff) usize = field.u64("ZIP64 uncompressed size");
    if (csize == 0xffffffff) csize = field.u64("ZIP64 compressed size");
    if (offset == 0xffffffff) offset = field.u64("ZIP64 local header offset");
    return;
  }
}

ZipEntry read_entry(const uint8_t* data, size_t size, ByteReader& cd, const Directory& dir) {
  SADANET_CHECK(cd.u32("central header signature") == kCentralSig, "bad central directory signature at offset ",
                cd.pos() - 4);
  cd.take(4, "versions");
  uint16_t flags = cd.u16("flags"), method = cd.u16("method");
  cd.take(4, "time and date");
  ZipEntry e;
  e.crc32 = cd.u32("crc");
  uint64_t csize = cd.u32("compressed size"), usize = cd.u32("size");
  uint16_t name_len = cd.u16("name length"), extra_len = cd.u16("extra length"), comment_len = cd.u16("comment length");
  uint16_t disk = cd.u16("disk");
  cd.take(6, "attributes");
  uint64_t local = cd.u32("local header offset");
  e.name = std::string(cd.view(name_len, "entry name"));
  apply_zip64_extra(cd.view(extra_len, "extra field"), usize, csize, local);
  cd.take(comment_len, "entry comment");

  const std::string what = "zip entry '" + e.name + "'";
  SADANET_CHECK(disk == 0 || disk == 0xffff, what, ": multi-disk zip archives are not supported");
  SADANET_CHECK(!(flags & 1), what, " is encrypted");
  SADANET_CHECK(method == 0, what, " is compressed (method ", method, "); torch.save stores entries uncompressed");
  SADANET_CHECK(csize == usize, what, ": stored size ", csize, " differs from its size ", usize);

  SADANET_CHECK(range_fits(local, kLocalSize, dir.offset), what, ": local header offset ", local, " is outside the file");
  e.header_offset = local;
  ByteReader lh(data, size, local);
  SADANET_CHECK(lh.u32("local header signature") == kLocalSig, what, ": bad local header signature at offset ", local);
  lh.seek(local + 26, "local header");
  uint16_t lname = lh.u16("local name length"), lextra = lh.u16("local extra length");
  SADANET_CHECK(lh.view(lname, "local name") == e.name, what, ": local header names a different file");
  lh.take(lextra, "local extra field");
  e.data_offset = lh.pos();
  e.size = usize;
  SADANET_CHECK(range_fits(e.data_offset, e.size, dir.offset), what, ": data [", e.data_offset, ", +", e.size,
                ") runs into the central directory or past the end of the file");
  return e;
}

}  // namespace

uint32_t crc32(const uint8_t* p, size_t n) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

ZipReader::ZipReader(const uint8_t* data, size_t size) : data_(data), size_(size) {
  Directory dir = read_directory(data, size);
  ByteReader cd(data, dir.offset + dir.size, dir.offset);
  entries_.reserve(dir.entries);  // never reallocates below, so index_'s views stay valid
  for (uint64_t i = 0; i < dir.entries; ++i) {
    entries_.push_back(read_entry(data, size, cd, dir));
    SADANET_CHECK(index_.emplace(entries_.back().name, entries_.size() - 1).second, "duplicate zip entry '",
                  entries_.back().name, "'");
  }
  // Each entry already ends before the central directory (read_entry); here, before any CRC is
  // computed, each must also end before the next one's local header (as zip writers lay them out;
  // Python's zipfile refuses overlapping entries too).
  for (size_t i = 1; i < entries_.size(); ++i) {
    const ZipEntry &a = entries_[i - 1], &b = entries_[i];
    SADANET_CHECK(b.header_offset > a.header_offset, "zip entry '", b.name, "' (local header at ", b.header_offset,
                  ") is listed after '", a.name, "' (at ", a.header_offset,
                  ") but lies before it: entries out of order in the central directory");
    SADANET_CHECK(b.header_offset >= a.data_offset + a.size, "zip entries '", a.name, "' and '", b.name,
                  "' overlap: '", a.name, "' spans [", a.header_offset, ", ", a.data_offset + a.size, ") and '", b.name,
                  "' starts at ", b.header_offset);
  }
}

const ZipEntry* ZipReader::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

std::string_view ZipReader::read(const ZipEntry& e) const {
  const uint8_t* p = data_ + e.data_offset;
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  uint32_t got = crc32(p, e.size);
  SADANET_CHECK(got == e.crc32, "zip entry '", e.name, "' is corrupt (CRC-32 ", got, ", expected ", e.crc32, ")");
#endif
  return {reinterpret_cast<const char*>(p), static_cast<size_t>(e.size)};
}

}  // namespace sadanet::io
