// Numbers read from files and command lines: the whole text must be one number in range, or a
// sadanet::Error says which value (`what`, e.g. "metadata 'step'"), what was expected and what
// came. std::stoull and friends accept leading blanks, signs and trailing junk, wrap "-1" to the
// largest unsigned value, and throw std::invalid_argument naming only themselves.
#pragma once
#include <cstdint>
#include <limits>
#include <string_view>

namespace sadanet {

// Decimal (base 10) or hexadecimal digits only (base 16, no "0x"); no sign, no blanks.
uint64_t parse_u64(std::string_view text, std::string_view what, int base = 10,
                   uint64_t max = std::numeric_limits<uint64_t>::max());
// Decimal, an optional leading '-', in [min, max].
int64_t parse_i64(std::string_view text, std::string_view what, int64_t min = std::numeric_limits<int64_t>::min(),
                  int64_t max = std::numeric_limits<int64_t>::max());

}  // namespace sadanet
