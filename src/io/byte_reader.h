// Bounds-checked little-endian reads over an untrusted byte range: every read that would run past
// the end throws sadanet::Error naming what was being read and where, so parsers of weight files
// never touch memory outside the input.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "sadanet/error.h"

namespace sadanet::io {

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size, size_t pos = 0) : data_(data), size_(size), pos_(pos) {
    SADANET_CHECK(pos <= size, "offset ", pos, " is past the end (", size, " bytes)");
  }
  size_t pos() const { return pos_; }
  size_t size() const { return size_; }
  size_t remaining() const { return size_ - pos_; }
  bool at_end() const { return pos_ == size_; }
  void seek(size_t pos, const char* what) {
    SADANET_CHECK(pos <= size_, "truncated: ", what, " at offset ", pos, " is past the end (", size_, " bytes)");
    pos_ = pos;
  }

  // The next n bytes; throws when fewer remain.
  const uint8_t* take(uint64_t n, const char* what) {
    SADANET_CHECK(n <= remaining(), "truncated: ", what, " needs ", n, " bytes at offset ", pos_, " but only ",
                  remaining(), " remain");
    const uint8_t* p = data_ + pos_;
    pos_ += static_cast<size_t>(n);
    return p;
  }
  std::string_view view(uint64_t n, const char* what) {
    return {reinterpret_cast<const char*>(take(n, what)), static_cast<size_t>(n)};
  }
  template <class T> T le(const char* what) {  // unsigned little-endian integer
    const uint8_t* p = take(sizeof(T), what);
    T v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(static_cast<T>(p[i]) << (8 * i));
    return v;
  }
  uint8_t u8(const char* what) { return *take(1, what); }
  uint16_t u16(const char* what) { return le<uint16_t>(what); }
  uint32_t u32(const char* what) { return le<uint32_t>(what); }
  uint64_t u64(const char* what) { return le<uint64_t>(what); }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_;
};

// a + b <= limit without overflow: the check every (offset, size) pair from a file goes through.
inline bool range_fits(uint64_t offset, uint64_t size, uint64_t limit) {
  return offset <= limit && size <= limit - offset;
}

}  // namespace sadanet::io
