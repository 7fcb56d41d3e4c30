// Errors are exceptions whose message names the op, what it expected and what it got.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace sadanet {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
template <class... Args> std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

// SADANET_CHECK(cond, "op: expected ...", value, ...): always on, Release builds included.
#define SADANET_CHECK(cond, ...)                                             \
  do {                                                                       \
    if (!(cond)) throw ::sadanet::Error(::sadanet::detail::concat(__VA_ARGS__)); \
  } while (0)

}  // namespace sadanet
