#include "sadanet/io/weights.h"

#include <algorithm>
#include <cstring>

#include "io/mapped_file.h"
#include "sadanet/io/pth.h"

namespace sadanet::io {

namespace {
// LONG1 of torch's legacy magic number: 10 bytes, little-endian 0x1950a86a20f9469cfc6c.
constexpr uint8_t kLegacyMagicLong[] = {0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
}  // namespace

const char* weights_format_name(WeightsFormat f) {
  switch (f) {
    case WeightsFormat::safetensors: return "safetensors";
    case WeightsFormat::torch_zip: return "torch zip";
    case WeightsFormat::torch_legacy: return "torch legacy";
    case WeightsFormat::unknown: return "unknown";
  }
  return "?";
}

WeightsFormat detect_weights_format(const uint8_t* data, size_t size) {
  if (size >= 4 && std::memcmp(data, "PK\x03\x04", 4) == 0) return WeightsFormat::torch_zip;
  // The first pickle is the magic number: PROTO, maybe a FRAME, then LONG1.
  if (size >= 2 && data[0] == 0x80) {
    const uint8_t* end = data + std::min<size_t>(size, 32);
    if (std::search(data, end, std::begin(kLegacyMagicLong), std::end(kLegacyMagicLong)) != end)
      return WeightsFormat::torch_legacy;
  }
  // A JSON header after the 8-byte length; its length is left for the reader to judge (and name).
  if (size >= 9 && data[8] == '{') return WeightsFormat::safetensors;
  return WeightsFormat::unknown;
}

TensorFile load_weights_bytes(const uint8_t* data, size_t size, const std::string& name) {
  switch (detect_weights_format(data, size)) {
    case WeightsFormat::safetensors: return read_safetensors_bytes(data, size, name);
    case WeightsFormat::torch_zip:
    case WeightsFormat::torch_legacy: {
      TensorFile f;
      f.tensors = load_pth_bytes(data, size, name);
      return f;
    }
    case WeightsFormat::unknown: break;
  }
  throw Error("weights '" + name + "': unrecognised format (expected safetensors or a torch .pth, zip or legacy)");
}

TensorFile load_weights(const std::string& path) {
  MappedFile file(path);
  return load_weights_bytes(file.data(), file.size(), path);
}

}  // namespace sadanet::io
