// Helpers shared by the weights I/O tests: the fixtures under tests/golden/io (written by
// tools/golden/gen_io_fixtures.py), raw file bytes, scratch directories and exact comparison
// against expected.json.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sadanet/tensor.h"

namespace sadanet::test {

std::string io_fixture(const std::string& name);  // tests/golden/io/<name>
const nlohmann::json& io_expected();               // tests/golden/io/expected.json
std::vector<uint8_t> read_bytes(const std::string& path);
void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes);

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  std::vector<std::string> list() const;  // names of the entries, sorted

 private:
  std::string path_;
};

// "" when t has exactly the dtype, shape and values of an expected.json entry, else what differs.
std::string match_expected(const Tensor& t, const nlohmann::json& entry);

}  // namespace sadanet::test
