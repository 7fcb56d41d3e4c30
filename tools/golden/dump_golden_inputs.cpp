// Writes, for every deterministic case of the op table, its fixed f32 inputs and the upstream
// gradient, as JSON on stdout. gen_op_goldens.py runs PyTorch on them (see regen.sh).
#include <iostream>

#include "golden.h"
#include "op_table.h"

using namespace sadanet;

int main() {
  nlohmann::json out;
  out["cases"] = nlohmann::json::object();
  for (const auto& c : test::op_table()) {
    if (c.random) continue;
    Generator gen(20261125ULL ^ test::name_hash(c.name));  // fixed: goldens are committed
    auto xs = test::make_inputs(c, DType::f32, gen);
    Tensor y;
    {
      NoGradGuard ng;
      y = c.fn(xs);
    }
    nlohmann::json j;
    j["inputs"] = nlohmann::json::array();
    for (size_t k = 0; k < xs.size(); ++k) {
      auto t = test::tensor_to_json(xs[k]);
      t["grad"] = c.inputs[k].grad && is_floating(xs[k].dtype());
      j["inputs"].push_back(t);
    }
    j["grad_output"] = test::tensor_to_json(randn(y.shape(), TensorOptions(DType::f32), &gen));
    j["check_grad"] = c.check_grad;
    out["cases"][c.name] = j;
  }
  std::cout << out.dump() << "\n";
  return 0;
}
