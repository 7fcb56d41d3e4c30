// SHA-256 (FIPS 180-4), for checking downloaded weight files against the hash prefix torchvision
// puts in their names.
#pragma once
#include <cstdint>
#include <string>

namespace sadanet::io {

std::string sha256_hex(const uint8_t* data, size_t n);
std::string sha256_file_hex(const std::string& path);  // streams the file; throws if unreadable

}  // namespace sadanet::io
