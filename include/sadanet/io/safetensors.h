// safetensors, sadanet's native weights format (https://github.com/huggingface/safetensors):
// an 8-byte little-endian header length N, N bytes of JSON
//   {"__metadata__": {"k": "v"}, "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]}, ...}
// padded with spaces to a multiple of 8, then the tensors' raw little-endian bytes. Offsets are
// relative to the data section, which the tensors must cover exactly (no holes, no overlaps).
// Supported dtypes: F32 F64 F16 BF16 I64 I32 U8; any other is refused by name.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sadanet/tensor.h"

namespace sadanet::io {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct TensorFile {
  NamedTensors tensors;                          // in file order (by data offset)
  std::map<std::string, std::string> metadata;   // the header's "__metadata__" (less the checksum)
  // The file carried sadanet's checksum ("sadanet.xxh3") and the content matched it. Files
  // without one (other tools', .pth) load with false; a mismatch is an error, never false.
  bool verified = false;
};

// Headers larger than this are refused before any allocation (real headers are kilobytes).
constexpr uint64_t kMaxSafetensorsHeader = 100ull << 20;

// Reads and validates every field; tensors are fresh contiguous CPU tensors. Errors throw
// sadanet::Error naming the file (or `name`) and the problem; a file whose "sadanet.xxh3"
// checksum does not match its content is refused as corrupt ("checksum mismatch"). The header is
// parsed in time linear in its size.
TensorFile read_safetensors(const std::string& path);
TensorFile read_safetensors_bytes(const uint8_t* data, size_t size, const std::string& name = "<memory>");

// Writes atomically (temporary file, fsync, rename): on any failure the previous file survives.
// Tensors may live on any device and have any strides; they are written as CPU contiguous bytes.
// Names must be unique and not "__metadata__". The metadata gains "sadanet.xxh3", an XXH3-64
// checksum over the other metadata and every tensor's name, dtype, shape and bytes (the
// serialisation is in src/io/content_hash.h); callers may not set that key themselves.
void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata = {});
// The same bytes, in memory.
std::vector<uint8_t> safetensors_bytes(const NamedTensors& tensors,
                                       const std::map<std::string, std::string>& metadata = {});

// Refuses NaN or Inf in any floating tensor, naming the tensor and the element; callers skip it
// when the user asks for non-finite weights (an --allow-nonfinite flag).
void check_finite(const TensorFile& file, const std::string& path);

}  // namespace sadanet::io
