// Stored-entry zip archives built byte by byte, for the zip reader's layout tests and the fuzz
// smoke's seeds: entries may be laid over each other or listed out of order on purpose.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sadanet::test {

struct Zip {
  struct Entry {
    std::string name;
    uint64_t header_offset, size;
    uint32_t crc;
  };
  // The bytes before the central directory; entries[i].header_offset points into it.
  std::vector<uint8_t> body;
  std::vector<Entry> entries;  // in central directory order

  static std::vector<uint8_t> local_header(const std::string& name, uint64_t size, uint32_t crc);
  // Appends a local header and its data at the end of the body, and its directory entry.
  void add(const std::string& name, const std::string& data);
  // body, then the central directory and the end record.
  std::vector<uint8_t> bytes() const;
};

// Entry a's data is entry b's local header and data: two valid entries, CRCs included, that
// overlap.
Zip overlapping_zip();

}  // namespace sadanet::test
