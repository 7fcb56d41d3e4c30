#include "sadanet/parse_number.h"

#include <charconv>
#include <string>

#include "sadanet/error.h"

namespace sadanet {
namespace {

// The text as it came, cut short: a doctored file's value can be megabytes long.
std::string quoted(std::string_view text) {
  constexpr size_t kShown = 64;
  std::string s(1, '\'');
  s.append(text.substr(0, kShown));
  s.append(text.size() > kShown ? "...'" : "'");
  return s;
}

template <class T> T parse(std::string_view text, std::string_view what, int base, T min, T max, const char* kind) {
  T v{};
  const char* end = text.data() + text.size();
  // from_chars takes no '+', no blanks and no "0x"; a leading '-' only for signed types.
  auto [p, ec] = std::from_chars(text.data(), end, v, base);
  if (text.empty() || ec == std::errc::invalid_argument || p != end)
    throw Error(detail::concat(what, ": expected ", kind, ", got ", quoted(text)));
  if (ec == std::errc::result_out_of_range || v < min || v > max)
    throw Error(detail::concat(what, ": expected ", kind, " in ", min, "..", max, ", got ", quoted(text)));
  return v;
}

}  // namespace

uint64_t parse_u64(std::string_view text, std::string_view what, int base, uint64_t max) {
  SADANET_CHECK(base == 10 || base == 16, "parse_u64: base ", base, " (expected 10 or 16)");
  return parse<uint64_t>(text, what, base, 0, max,
                         base == 16 ? "a hexadecimal number" : "a non-negative decimal integer");
}

int64_t parse_i64(std::string_view text, std::string_view what, int64_t min, int64_t max) {
  return parse<int64_t>(text, what, 10, min, max, "a decimal integer");
}

}  // namespace sadanet
