// The op table: every differentiable op appears here as one or more cases. One table serves
// every check (see test_ops.cpp): finite-difference gradients in f64 on fresh random inputs,
// forward and backward against PyTorch goldens (tests/golden/ops.json, made by
// tools/golden/regen.sh), and, on CUDA, every case against the CPU.
//
// Add cases from any file under tests/op_cases/ with SADANET_OP_CASES; add the PyTorch twin of
// each case (same name) to a CASES dict under tools/golden/cases/.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "sadanet/sadanet.h"

namespace sadanet::test {

enum class Gen {
  normal,     // N(0, 1)
  positive,   // U(0.5, 2): for log, sqrt, division
  unit,       // U(-1, 1)
  away,       // sign * U(0.2, 1.2): keeps finite differences off kinks (relu, abs, clamp, max)
  index,      // i64 in [0, bound): class ids, gather/select indices (never differentiated)
};

struct InputSpec {
  Shape shape;
  Gen gen = Gen::normal;
  bool grad = true;       // differentiate with respect to this input
  int64_t bound = 0;      // for Gen::index
};

struct Tol {
  double atol, rtol;      // pass when |got - want| <= atol + rtol * |want|, element-wise
};

struct OpCase {
  std::string name;                     // "family/variant", unique; key of the golden file
  std::vector<InputSpec> inputs;
  std::function<Tensor(const std::vector<Tensor>&)> fn;
  Tol fd{1e-6, 1e-4};                   // f64 autograd vs central differences (step 1e-6)
  Tol golden{1e-5, 1e-4};               // f32 forward and gradients vs PyTorch
  Tol device{1e-5, 1e-4};               // CUDA vs CPU, f32
  bool check_grad = true;               // false for ops without a gradient (say why in the case)
  bool random = false;                  // output depends on the generator (dropout): no golden
};

std::vector<OpCase>& op_table();
inline bool add_op_cases(std::vector<OpCase> cases) {
  auto& t = op_table();
  for (auto& c : cases) t.push_back(std::move(c));
  return true;
}
#define SADANET_OP_CASES(...) \
  static const bool SADANET_CAT(sadanet_op_cases_, __COUNTER__) = ::sadanet::test::add_op_cases(__VA_ARGS__)
#ifndef SADANET_CAT
#define SADANET_CAT_(a, b) a##b
#define SADANET_CAT(a, b) SADANET_CAT_(a, b)
#endif

// Fresh inputs for a case on the CPU, in dtype (f32 or f64), from the given generator.
std::vector<Tensor> make_inputs(const OpCase& c, DType dtype, Generator& gen);
// A stable 64-bit hash of a case name (FNV-1a), to give each case its own random stream.
inline uint64_t name_hash(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ULL;
  return h;
}
// The seed of this run (printed once; SADANET_TEST_SEED overrides it).
uint64_t run_seed();

}  // namespace sadanet::test
