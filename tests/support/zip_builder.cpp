#include "zip_builder.h"

#include "io/zip_reader.h"

namespace sadanet::test {
namespace {

void put(std::vector<uint8_t>& b, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

uint32_t crc_of(const std::string& s) { return io::crc32(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

}  // namespace

std::vector<uint8_t> Zip::local_header(const std::string& name, uint64_t size, uint32_t crc) {
  std::vector<uint8_t> h;
  put(h, 0x04034b50, 4);
  put(h, 20, 2), put(h, 0, 2), put(h, 0, 2), put(h, 0, 4);  // version, flags, stored, time
  put(h, crc, 4), put(h, size, 4), put(h, size, 4);
  put(h, name.size(), 2), put(h, 0, 2);
  h.insert(h.end(), name.begin(), name.end());
  return h;
}

void Zip::add(const std::string& name, const std::string& data) {
  auto h = local_header(name, data.size(), crc_of(data));
  entries.push_back({name, body.size(), data.size(), crc_of(data)});
  body.insert(body.end(), h.begin(), h.end());
  body.insert(body.end(), data.begin(), data.end());
}

std::vector<uint8_t> Zip::bytes() const {
  std::vector<uint8_t> out = body, cd;
  for (const Entry& e : entries) {
    put(cd, 0x02014b50, 4);
    put(cd, 20, 2), put(cd, 20, 2), put(cd, 0, 2), put(cd, 0, 2), put(cd, 0, 4);
    put(cd, e.crc, 4), put(cd, e.size, 4), put(cd, e.size, 4);
    put(cd, e.name.size(), 2), put(cd, 0, 2), put(cd, 0, 2), put(cd, 0, 2), put(cd, 0, 2), put(cd, 0, 4);
    put(cd, e.header_offset, 4);
    cd.insert(cd.end(), e.name.begin(), e.name.end());
  }
  const uint64_t cd_offset = out.size();
  out.insert(out.end(), cd.begin(), cd.end());
  put(out, 0x06054b50, 4);
  put(out, 0, 2), put(out, 0, 2), put(out, entries.size(), 2), put(out, entries.size(), 2);
  put(out, cd.size(), 4), put(out, cd_offset, 4), put(out, 0, 2);
  return out;
}

Zip overlapping_zip() {
  Zip inner;
  inner.add("archive/b", "payload");
  Zip z;
  z.add("archive/a", std::string(inner.body.begin(), inner.body.end()));
  const uint64_t b_at = z.entries[0].header_offset + 30 + z.entries[0].name.size();
  z.entries.push_back({"archive/b", b_at, inner.entries[0].size, inner.entries[0].crc});
  return z;
}

}  // namespace sadanet::test
