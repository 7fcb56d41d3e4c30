#include "io_fixtures.h"

#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "golden.h"

namespace sadanet::test {

std::string io_fixture(const std::string& name) { return golden_path("io/" + name); }

const nlohmann::json& io_expected() {
  static const nlohmann::json doc = load_json(io_fixture("expected.json"));
  return doc;
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  SADANET_CHECK(f.good(), "cannot open ", path);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  SADANET_CHECK(f.good(), "cannot write ", path);
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "sadanet_io_XXXXXX").string();
  SADANET_CHECK(::mkdtemp(tmpl.data()), "cannot create a temporary directory from ", tmpl);
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::permissions(path_, std::filesystem::perms::owner_all, ec);  // in case a test revoked them
  std::filesystem::remove_all(path_, ec);
}

std::vector<std::string> TempDir::list() const {
  std::vector<std::string> names;
  for (auto& e : std::filesystem::directory_iterator(path_)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string match_expected(const Tensor& t, const nlohmann::json& entry) {
  std::ostringstream os;
  if (dtype_name(t.dtype()) != entry.at("dtype").get<std::string>())
    os << "dtype " << dtype_name(t.dtype()) << " != " << entry.at("dtype") << "; ";
  if (t.shape() != entry.at("shape").get<Shape>())
    os << "shape " << shape_str(t.shape()) << " != " << entry.at("shape") << "; ";
  if (!os.str().empty()) return os.str();
  auto got = t.to_vector<double>();
  auto want = entry.at("values").get<std::vector<double>>();
  if (got.size() != want.size()) return "value count differs";
  for (size_t i = 0; i < got.size(); ++i)
    if (got[i] != want[i]) {
      os << "element " << i << ": " << got[i] << " != " << want[i];
      return os.str();
    }
  return "";
}

}  // namespace sadanet::test
