// The zip container torch.save writes since PyTorch 1.6: stored (uncompressed) entries, ZIP64
// records when the archive is large. Every offset and size is checked against the input before
// use; compressed, encrypted or multi-disk archives are refused.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sadanet::io {

struct ZipEntry {
  std::string name;
  uint64_t header_offset = 0;  // of the local header, inside the input
  uint64_t data_offset = 0;    // of the stored bytes, inside the input
  uint64_t size = 0;
  uint32_t crc32 = 0;
};

class ZipReader {
 public:
  // Parses and validates the central directory. The entries must lie in the file in directory
  // order, each (local header and data) ending before the next begins: overlapping entries would
  // make one byte count many times, and the CRC work of a small file unbounded.
  ZipReader(const uint8_t* data, size_t size);
  ZipReader(const ZipReader&) = delete;  // index_ points into entries_
  ZipReader& operator=(const ZipReader&) = delete;
  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(std::string_view name) const;  // nullptr when absent
  // The entry's bytes, after checking its CRC-32 (skipped in fuzzing builds, where random
  // inputs would otherwise never get past it).
  std::string_view read(const ZipEntry& e) const;

 private:
  const uint8_t* data_;
  size_t size_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string_view, size_t> index_;  // views into entries_[i].name
};

uint32_t crc32(const uint8_t* p, size_t n);

}  // namespace sadanet::io
