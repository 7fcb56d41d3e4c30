// Runs the op table (op_table.h): every case is checked
//  - FiniteDiff: autograd vs central differences in f64 on fresh random inputs;
//  - Golden: f32 forward and gradients vs PyTorch on the stored inputs of tests/golden/ops.json;
//  - CudaOpTable (cuda label): f32 forward and gradients on the GPU vs the CPU, fresh inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "cuda_gate.h"
#include "golden.h"
#include "op_table.h"
#include "sadanet/runtime.h"

namespace sadanet::test {
namespace {

std::vector<std::string> case_names(bool (*keep)(const OpCase&)) {
  std::vector<std::string> names;
  for (const auto& c : op_table())
    if (keep(c)) names.push_back(c.name);
  return names;
}
const OpCase& find_case(const std::string& name) {
  for (const auto& c : op_table())
    if (c.name == name) return c;
  throw Error("no op case " + name);
}
std::string param_name(const testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (auto& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

double dot(const Tensor& y, const Tensor& r) {
  auto a = y.to_vector<double>(), b = r.to_vector<double>();
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

class FiniteDiff : public testing::TestWithParam<std::string> {};

TEST_P(FiniteDiff, AutogradMatchesCentralDifferences) {
  const OpCase& c = find_case(GetParam());
  Generator gen(run_seed() ^ name_hash(c.name));
  std::vector<Tensor> xs = make_inputs(c, DType::f64, gen);
  Tensor y = c.fn(xs);
  ASSERT_TRUE(y.requires_grad()) << c.name << ": output does not require grad";
  Tensor r = randn(y.shape(), TensorOptions(DType::f64), &gen);
  y.backward(r);

  const double h = 1e-6;
  for (size_t k = 0; k < xs.size(); ++k) {
    if (!xs[k].requires_grad()) continue;
    Tensor analytic = xs[k].grad();
    ASSERT_TRUE(analytic.defined()) << c.name << ": no gradient reached input " << k;
    std::vector<double> numeric(static_cast<size_t>(xs[k].numel()));
    NoGradGuard ng;
    double* p = xs[k].data<double>();
    for (int64_t j = 0; j < xs[k].numel(); ++j) {
      const double orig = p[j];
      p[j] = orig + h;
      double lp = dot(c.fn(xs), r);
      p[j] = orig - h;
      double lm = dot(c.fn(xs), r);
      p[j] = orig;
      numeric[j] = (lp - lm) / (2 * h);
    }
    Tensor num = from_vector(numeric, xs[k].shape());
    std::string diff = compare(analytic, num, c.fd.atol, c.fd.rtol);
    EXPECT_TRUE(diff.empty()) << c.name << ", input " << k << ": " << diff;
  }
}
INSTANTIATE_TEST_SUITE_P(OpTable, FiniteDiff,
                         testing::ValuesIn(case_names([](const OpCase& c) { return c.check_grad; })), param_name);

class Golden : public testing::TestWithParam<std::string> {};

const nlohmann::json& goldens() {
  static const nlohmann::json j = load_json(golden_path("ops.json"));
  return j;
}

TEST_P(Golden, MatchesPyTorch) {
  const OpCase& c = find_case(GetParam());
  const auto& all = goldens().at("cases");
  ASSERT_TRUE(all.contains(c.name)) << c.name << " has no golden values: run tools/golden/regen.sh";
  const auto& g = all.at(c.name);
  std::vector<Tensor> xs;
  for (size_t k = 0; k < c.inputs.size(); ++k) {
    Tensor t = tensor_from_json(g.at("inputs").at(k));
    if (is_floating(t.dtype())) t = t.to(DType::f32);
    if (c.inputs[k].grad && is_floating(t.dtype())) t.set_requires_grad(true);
    xs.push_back(t);
  }
  Tensor y = c.fn(xs);
  Tensor want = tensor_from_json(g.at("output"));
  std::string diff = compare(y, want, c.golden.atol, c.golden.rtol);
  EXPECT_TRUE(diff.empty()) << c.name << " forward: " << diff;
  if (!c.check_grad) return;
  y.backward(tensor_from_json(g.at("grad_output")).to(DType::f32));
  for (size_t k = 0; k < xs.size(); ++k) {
    if (!xs[k].requires_grad()) continue;
    const auto& gw = g.at("grads").at(k);
    ASSERT_FALSE(gw.is_null()) << c.name << ": PyTorch gave no gradient for input " << k;
    diff = compare(xs[k].grad(), tensor_from_json(gw), c.golden.atol, c.golden.rtol);
    EXPECT_TRUE(diff.empty()) << c.name << " gradient of input " << k << ": " << diff;
  }
}
INSTANTIATE_TEST_SUITE_P(OpTable, Golden, testing::ValuesIn(case_names([](const OpCase& c) { return !c.random; })),
                         param_name);

TEST(OpTableMeta, EveryGoldenBelongsToACase) {
  for (auto& [name, _] : goldens().at("cases").items()) {
    bool found = false;
    for (const auto& c : op_table()) found = found || c.name == name;
    EXPECT_TRUE(found) << "tests/golden/ops.json holds '" << name << "', which no op case defines";
  }
}

TEST(OpTableMeta, NamesAreUnique) {
  std::set<std::string> seen;
  for (const auto& c : op_table()) EXPECT_TRUE(seen.insert(c.name).second) << "duplicate op case " << c.name;
  EXPECT_GT(op_table().size(), 0u);
}

// The same table on the GPU, compared with the CPU.
class CudaOpTable : public testing::TestWithParam<std::string> {};

TEST_P(CudaOpTable, MatchesCpu) {
  SADANET_REQUIRE_CUDA();
  const OpCase& c = find_case(GetParam());
  Generator gen(run_seed() ^ name_hash(c.name));
  std::vector<Tensor> cpu_in = make_inputs(c, DType::f32, gen), gpu_in;
  for (const auto& t : cpu_in) {
    Tensor g = t.detach().to(Device(DeviceType::cuda, 0));
    if (t.requires_grad()) g.set_requires_grad(true);
    gpu_in.push_back(g);
  }
  Tensor yc = c.fn(cpu_in), yg = c.fn(gpu_in);
  ASSERT_EQ(yg.device().type, DeviceType::cuda) << c.name << ": output left the GPU";
  if (c.random) return;  // same numbers are checked by the random tests
  std::string diff = compare(yg, yc, c.device.atol, c.device.rtol);
  EXPECT_TRUE(diff.empty()) << c.name << " forward: " << diff;
  if (!c.check_grad) return;
  Tensor r = randn(yc.shape(), TensorOptions(DType::f32), &gen);
  yc.backward(r);
  yg.backward(r.to(Device(DeviceType::cuda, 0)));
  for (size_t k = 0; k < cpu_in.size(); ++k) {
    if (!cpu_in[k].requires_grad()) continue;
    diff = compare(gpu_in[k].grad(), cpu_in[k].grad(), c.device.atol, c.device.rtol);
    EXPECT_TRUE(diff.empty()) << c.name << " gradient of input " << k << ": " << diff;
  }
}
INSTANTIATE_TEST_SUITE_P(OpTable, CudaOpTable, testing::ValuesIn(case_names([](const OpCase&) { return true; })),
                         param_name);

}  // namespace
}  // namespace sadanet::test
