#include "golden.h"

#include <cmath>
#include <fstream>
#include <sstream>

namespace sadanet::test {

nlohmann::json tensor_to_json(const Tensor& t) {
  nlohmann::json j;
  j["shape"] = t.shape();
  j["dtype"] = dtype_name(t.dtype());
  if (t.dtype() == DType::i64 || t.dtype() == DType::i32) j["data"] = t.to_vector<int64_t>();
  else j["data"] = t.to_vector<double>();
  return j;
}

Tensor tensor_from_json(const nlohmann::json& j) {
  Shape shape = j.at("shape").get<Shape>();
  DType dt = dtype_from_name(j.at("dtype").get<std::string>());
  if (dt == DType::i64 || dt == DType::i32)
    return from_vector(j.at("data").get<std::vector<int64_t>>(), shape).to(dt);
  return from_vector(j.at("data").get<std::vector<double>>(), shape).to(dt);
}

nlohmann::json load_json(const std::string& path) {
  std::ifstream f(path);
  SADANET_CHECK(f.good(), "golden: cannot open ", path);
  return nlohmann::json::parse(f);
}

std::string golden_path(const std::string& file) { return std::string(SADANET_TEST_DATA_DIR) + "/golden/" + file; }

std::string compare(const Tensor& got, const Tensor& want, double atol, double rtol) {
  std::ostringstream os;
  if (got.shape() != want.shape()) {
    os << "shape " << shape_str(got.shape()) << " != expected " << shape_str(want.shape());
    return os.str();
  }
  auto g = got.to_vector<double>(), w = want.to_vector<double>();
  double worst = 0;
  int64_t worst_i = -1, bad = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    double err = std::abs(g[i] - w[i]), lim = atol + rtol * std::abs(w[i]);
    bool ok = err <= lim || (std::isnan(g[i]) && std::isnan(w[i]));
    if (!ok) {
      ++bad;
      double excess = std::isnan(err) ? INFINITY : err / lim;
      if (worst_i < 0 || excess > worst) { worst = excess; worst_i = static_cast<int64_t>(i); }
    }
  }
  if (bad == 0) return "";
  os << bad << " of " << g.size() << " elements differ beyond atol=" << atol << " rtol=" << rtol
     << "; worst at flat index " << worst_i << ": got " << g[worst_i] << ", expected " << w[worst_i];
  return os.str();
}

}  // namespace sadanet::test
