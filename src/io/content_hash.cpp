#include "io/content_hash.h"

#include <xxhash.h>

#include <cstdio>
#include <new>

namespace sadanet::io {

ContentHash::ContentHash(const std::map<std::string, std::string>& metadata) : state_(XXH3_createState()) {
  if (!state_) throw std::bad_alloc();
  XXH3_64bits_reset(state_);
  str("sadanet.xxh3/1");
  u64(metadata.size() - metadata.count(kChecksumKey));
  for (const auto& [k, v] : metadata) {
    if (k == kChecksumKey) continue;
    str(k);
    str(v);
  }
}

ContentHash::~ContentHash() { XXH3_freeState(state_); }

void ContentHash::u64(uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
  XXH3_64bits_update(state_, b, 8);
}

void ContentHash::str(std::string_view s) {
  u64(s.size());
  XXH3_64bits_update(state_, s.data(), s.size());
}

void ContentHash::tensor(std::string_view name, std::string_view dtype, const Shape& shape, const void* bytes,
                         uint64_t n) {
  str(name);
  str(dtype);
  u64(shape.size());
  for (int64_t d : shape) u64(static_cast<uint64_t>(d));
  u64(n);
  if (n > 0) XXH3_64bits_update(state_, bytes, static_cast<size_t>(n));
  ++tensors_;
}

std::string ContentHash::hex() {
  u64(tensors_);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(XXH3_64bits_digest(state_)));
  return buf;
}

}  // namespace sadanet::io
