#include "op_table.h"

#include <cstdio>
#include <cstdlib>
#include <random>

namespace sadanet::test {

std::vector<OpCase>& op_table() {
  static std::vector<OpCase> table;
  return table;
}

uint64_t run_seed() {
  static const uint64_t seed = [] {
    uint64_t s;
    if (const char* env = std::getenv("SADANET_TEST_SEED")) {
      s = std::strtoull(env, nullptr, 10);
    } else {
      std::random_device rd;
      s = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    }
    std::fprintf(stderr, "[sadanet] random inputs use seed %llu (set SADANET_TEST_SEED=%llu to repeat)\n",
                 static_cast<unsigned long long>(s), static_cast<unsigned long long>(s));
    return s;
  }();
  return seed;
}

std::vector<Tensor> make_inputs(const OpCase& c, DType dtype, Generator& gen) {
  std::vector<Tensor> xs;
  for (const auto& in : c.inputs) {
    TensorOptions o(dtype);
    Tensor t;
    switch (in.gen) {
      case Gen::normal: t = randn(in.shape, o, &gen); break;
      case Gen::positive: t = uniform(in.shape, 0.5, 2.0, o, &gen); break;
      case Gen::unit: t = uniform(in.shape, -1.0, 1.0, o, &gen); break;
      case Gen::away: {
        Tensor mag = uniform(in.shape, 0.2, 1.2, o, &gen);
        Tensor sign = add(mul(bernoulli(in.shape, 0.5, o, &gen), 2.0), -1.0);
        t = mul(mag, sign);
        break;
      }
      case Gen::index: {
        SADANET_CHECK(in.bound > 0, "op case ", c.name, ": Gen::index needs a positive bound");
        Tensor u = rand(in.shape, TensorOptions(DType::f64), &gen);
        t = mul(u, static_cast<double>(in.bound)).to(DType::i64);
        break;
      }
    }
    if (in.grad && in.gen != Gen::index) t.set_requires_grad(true);
    xs.push_back(t);
  }
  return xs;
}

}  // namespace sadanet::test
