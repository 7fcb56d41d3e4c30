// EXPECT_ERROR_MENTIONS(expr, {"add", "[2, 3]"}): expr throws sadanet::Error whose message
// contains every listed piece (the op name first, then what was expected and what was got).
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sadanet/error.h"

#define EXPECT_ERROR_MENTIONS(expr, ...)                                                         \
  do {                                                                                           \
    try {                                                                                        \
      (void)(expr);                                                                              \
      ADD_FAILURE() << #expr << " did not throw";                                                \
    } catch (const ::sadanet::Error& e) {                                                        \
      const std::string msg = e.what();                                                          \
      for (const std::string& piece : std::vector<std::string> __VA_ARGS__)                      \
        EXPECT_NE(msg.find(piece), std::string::npos) << "message of " << #expr << " lacks '"    \
                                                      << piece << "': " << msg;                  \
    }                                                                                            \
  } while (0)
