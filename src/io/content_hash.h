// The checksum sadanet's safetensors writer stores in "__metadata__" under kChecksumKey: XXH3-64
// over a canonical serialisation of the file's content, so that a flipped byte anywhere in a
// tensor, a shape, a name or a metadata value is caught on reading. The serialisation (each
// string and byte run length-prefixed, so no two contents give the same stream):
//   "sadanet.xxh3/1"
//   u64 number of metadata entries, then for each (sorted by key, kChecksumKey left out):
//     u64 length, key bytes, u64 length, value bytes
//   for each tensor in file order: u64 length, name; u64 length, dtype name ("F32", ...);
//     u64 rank, each dimension as u64; u64 byte count, the bytes
//   u64 number of tensors
// All integers little-endian. The value is 16 lowercase hex digits.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "sadanet/tensor.h"

struct XXH3_state_s;

namespace sadanet::io {

inline constexpr const char* kChecksumKey = "sadanet.xxh3";

class ContentHash {
 public:
  explicit ContentHash(const std::map<std::string, std::string>& metadata);  // skips kChecksumKey
  ~ContentHash();
  ContentHash(const ContentHash&) = delete;
  ContentHash& operator=(const ContentHash&) = delete;

  void tensor(std::string_view name, std::string_view dtype, const Shape& shape, const void* bytes, uint64_t n);
  std::string hex();  // call once, after the last tensor: the digest as stored in the file

 private:
  void u64(uint64_t v);
  void str(std::string_view s);
  XXH3_state_s* state_;
  uint64_t tensors_ = 0;
};

}  // namespace sadanet::io
