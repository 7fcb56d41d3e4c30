// Optimizers against PyTorch: parameter trajectories from tests/golden/optim.json (written by
// tools/golden/gen_optim_goldens.py), state save/restore mid-run, skipping, and load errors.
//
// Tolerance: f32 trajectories match torch.optim to |got - want| <= 1e-6 * |want| + 1e-7 (the
// kernels mirror torch's op order, so differences are a few float roundings at most).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "golden.h"    // test::load_json, golden_path
#include "op_table.h"  // test::run_seed
#include "sadanet/optim.h"
#include "sadanet/random.h"
#include "sadanet/sadanet.h"

namespace sadanet {
namespace {

using nlohmann::json;
using optim::Optimizer;
using optim::ParamGroup;

constexpr double kRtol = 1e-6, kAtol = 1e-7;

const json& goldens() {
  static const json doc = test::load_json(test::golden_path("optim.json"));
  return doc;
}

// The closed formulas of gen_optim_goldens.py (init_value, grad_value).
double init_value(int64_t j, int64_t i) { return std::sin(0.7 * i + 1.3 * j + 0.25) * (1.0 + 0.1 * j); }
double grad_value(int64_t j, int64_t i, int64_t t) {
  return std::cos(0.9 * i + 0.6 * j + 1.7 * t) * (0.5 + 0.25 * t);
}

Tensor formula_tensor(const Shape& shape, DType dt, const std::function<double(int64_t)>& f) {
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(static_cast<float>(f(static_cast<int64_t>(i))));
  return from_vector<double>(v, shape).to(dt);
}

std::vector<Tensor> make_params(const json& c, DType dt) {
  std::vector<Tensor> ps;
  int64_t j = 0;
  for (const auto& s : c["shapes"]) {
    const int64_t jj = j++;
    Tensor p = formula_tensor(s.get<Shape>(), dt, [&](int64_t i) { return init_value(jj, i); });
    p.set_requires_grad(true);
    ps.push_back(p);
  }
  return ps;
}

void set_grads(const json& c, std::vector<Tensor>& ps, int64_t t) {
  for (int64_t j = 0; j < static_cast<int64_t>(ps.size()); ++j) {
    bool skip = false;
    for (const auto& ng : c["no_grad"]) skip |= ng[0] == j && ng[1] == t;
    if (skip) {
      ps[j].zero_grad();
      continue;
    }
    ps[j].set_grad(formula_tensor(ps[j].shape(), ps[j].dtype(), [&](int64_t i) { return grad_value(j, i, t); }));
  }
}

double opt_or(const json& o, const char* k, double d) { return o.contains(k) ? o[k].get<double>() : d; }

std::unique_ptr<Optimizer> make_optimizer(const json& c, const std::vector<Tensor>& ps) {
  std::vector<ParamGroup> groups;
  for (const auto& g : c["groups"]) {
    ParamGroup pg;
    for (const auto& j : g["params"]) pg.params.push_back(ps[j.get<size_t>()]);
    if (g.contains("lr")) pg.lr = g["lr"];
    if (g.contains("weight_decay")) pg.weight_decay = g["weight_decay"];
    if (g.contains("beta1")) pg.beta1 = g["beta1"].get<double>();
    if (g.contains("beta2")) pg.beta2 = g["beta2"].get<double>();
    if (g.contains("eps")) pg.eps = g["eps"].get<double>();
    if (g.contains("momentum")) pg.momentum = g["momentum"].get<double>();
    if (g.contains("dampening")) pg.dampening = g["dampening"].get<double>();
    if (g.contains("nesterov")) pg.nesterov = g["nesterov"].get<bool>();
    groups.push_back(pg);
  }
  const json& o = c["options"];
  const std::string kind = c["optimizer"];
  if (kind == "SGD") {
    optim::SgdOptions so;
    so.lr = opt_or(o, "lr", so.lr);
    so.momentum = opt_or(o, "momentum", so.momentum);
    so.dampening = opt_or(o, "dampening", so.dampening);
    so.weight_decay = opt_or(o, "weight_decay", so.weight_decay);
    so.nesterov = o.value("nesterov", false);
    return std::make_unique<optim::SGD>(groups, so);
  }
  auto fill = [&](auto a) {
    a.lr = opt_or(o, "lr", a.lr);
    a.beta1 = opt_or(o, "beta1", a.beta1);
    a.beta2 = opt_or(o, "beta2", a.beta2);
    a.eps = opt_or(o, "eps", a.eps);
    a.weight_decay = opt_or(o, "weight_decay", a.weight_decay);
    return a;
  };
  if (kind == "Adam") return std::make_unique<optim::Adam>(groups, fill(optim::AdamOptions{}));
  if (kind == "AdamW") return std::make_unique<optim::AdamW>(groups, fill(optim::AdamWOptions{}));
  throw std::runtime_error("unknown optimizer " + kind);
}

// Largest violation of |got - want| <= atol + rtol |want| over the parameters after step t.
void expect_step_matches(const json& c, const std::vector<Tensor>& ps, int64_t t, double rtol, double atol) {
  const json& want = c["trajectory"][t - 1];
  for (size_t j = 0; j < ps.size(); ++j) {
    const auto got = ps[j].to_vector<double>();
    const auto ref = want[j].get<std::vector<double>>();
    ASSERT_EQ(got.size(), ref.size());
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_LE(std::abs(got[i] - ref[i]), atol + rtol * std::abs(ref[i]))
          << "step " << t << " param " << j << " element " << i << ": got " << got[i] << " want " << ref[i];
  }
}

TEST(OptimGolden, TrajectoriesMatchPyTorchF32) {
  const auto& cases = goldens()["cases"];
  ASSERT_GE(cases.size(), 8u);
  const int64_t steps = goldens()["steps"];
  for (const auto& [name, c] : cases.items()) {
    SCOPED_TRACE(name);
    auto ps = make_params(c, DType::f32);
    auto opt = make_optimizer(c, ps);
    for (int64_t t = 1; t <= steps; ++t) {
      set_grads(c, ps, t);
      opt->step();
      expect_step_matches(c, ps, t, kRtol, kAtol);
    }
  }
}

// f64 follows the same rule; it differs from torch's f32 run only by f32 rounding.
TEST(OptimGolden, TrajectoriesMatchPyTorchF64) {
  const int64_t steps = goldens()["steps"];
  for (const auto& [name, c] : goldens()["cases"].items()) {
    SCOPED_TRACE(name);
    auto ps = make_params(c, DType::f64);
    auto opt = make_optimizer(c, ps);
    for (int64_t t = 1; t <= steps; ++t) {
      set_grads(c, ps, t);
      opt->step();
      expect_step_matches(c, ps, t, 1e-5, 1e-6);
    }
  }
}

// Saving after k steps and resuming in a fresh optimizer over fresh parameter tensors gives the
// uninterrupted trajectory bit for bit; stepping the old optimizer on does not alter the dict.
TEST(OptimState, SaveRestoreMidRunGivesSameTrajectory) {
  const int64_t steps = goldens()["steps"], k = steps / 2;
  for (const auto& [name, c] : goldens()["cases"].items()) {
    SCOPED_TRACE(name);
    auto ps = make_params(c, DType::f32);
    auto opt = make_optimizer(c, ps);
    for (int64_t t = 1; t <= k; ++t) {
      set_grads(c, ps, t);
      opt->step();
    }
    const optim::StateDict sd = opt->state_dict();
    std::vector<Tensor> resumed;
    for (const auto& p : ps) resumed.push_back(p.detach().clone().set_requires_grad(true));
    for (int64_t t = k + 1; t <= steps; ++t) {  // the original run goes on, mutating its state
      set_grads(c, ps, t);
      opt->step();
    }
    auto opt2 = make_optimizer(c, resumed);
    opt2->load_state_dict(sd);
    for (int64_t t = k + 1; t <= steps; ++t) {
      set_grads(c, resumed, t);
      opt2->step();
      expect_step_matches(c, resumed, t, kRtol, kAtol);
    }
    for (size_t j = 0; j < ps.size(); ++j)
      EXPECT_EQ(ps[j].to_vector<float>(), resumed[j].to_vector<float>()) << "param " << j;
  }
}

Tensor random_param(const Shape& s, Generator& gen) {
  Tensor p = randn(s, {}, &gen);
  p.set_requires_grad(true);
  return p;
}

// A large f64 tensor (split across threads) against a scalar transcription of torch's rule.
TEST(OptimKernels, AdamMatchesScalarReferenceOnRandomData) {
  Generator gen(test::run_seed());
  const int64_t n = 100003;
  Tensor p = randn({n}, TensorOptions(DType::f64), &gen);
  p.set_requires_grad(true);
  std::vector<double> ref = p.to_vector<double>(), m(n, 0.0), v(n, 0.0);
  optim::AdamW opt(std::vector<Tensor>{p}, {.lr = 3e-3, .beta1 = 0.85, .beta2 = 0.995, .eps = 1e-7, .weight_decay = 0.03});
  for (int64_t t = 1; t <= 3; ++t) {
    Tensor g = randn({n}, TensorOptions(DType::f64), &gen);
    p.set_grad(g);
    opt.step();
    const auto gv = g.to_vector<double>();
    const double bc1 = 1 - std::pow(0.85, t), bc2 = 1 - std::pow(0.995, t);
    for (int64_t i = 0; i < n; ++i) {
      ref[i] *= 1 - 3e-3 * 0.03;
      m[i] = 0.85 * m[i] + 0.15 * gv[i];
      v[i] = 0.995 * v[i] + 0.005 * gv[i] * gv[i];
      ref[i] -= 3e-3 / bc1 * m[i] / (std::sqrt(v[i]) / std::sqrt(bc2) + 1e-7);
    }
  }
  const auto got = p.to_vector<double>();
  for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(got[i], ref[i], 1e-12 + 1e-12 * std::abs(ref[i])) << i;
}

TEST(OptimBehaviour, ParamsWithoutGradAreSkippedAndZeroGradClears) {
  Generator gen(test::run_seed());
  Tensor a = random_param({4, 3}, gen), b = random_param({7}, gen);
  const auto b0 = b.to_vector<float>();
  optim::Adam opt(std::vector<Tensor>{a, b}, {.lr = 0.1});
  a.set_grad(randn({4, 3}, {}, &gen));
  opt.step();
  EXPECT_EQ(b.to_vector<float>(), b0);
  const auto sd = opt.state_dict();
  EXPECT_TRUE(sd.count("state.0.0.exp_avg"));
  EXPECT_EQ(sd.at("state.0.0.step").item(), 1.0);
  EXPECT_FALSE(sd.count("state.0.1.step"));  // never had a gradient: no state, as PyTorch
  opt.zero_grad();
  EXPECT_FALSE(a.grad().defined());
  EXPECT_FALSE(b.grad().defined());
}

TEST(OptimState, HyperParametersAreSavedAndRestored) {
  Generator gen(test::run_seed());
  Tensor a = random_param({3}, gen), b = random_param({2, 2}, gen);
  optim::SGD opt({ParamGroup{{a}}, ParamGroup{{b}, 0.5}}, {.lr = 0.1, .momentum = 0.9});
  EXPECT_EQ(opt.groups()[0].lr, 0.1);  // inherited
  EXPECT_EQ(opt.groups()[1].lr, 0.5);  // per group
  EXPECT_EQ(*opt.groups()[1].momentum, 0.9);
  opt.groups()[0].lr = 0.025;          // as a scheduler would
  const auto sd = opt.state_dict();
  optim::SGD fresh({ParamGroup{{a}}, ParamGroup{{b}, 0.5}}, {.lr = 0.1, .momentum = 0.9});
  fresh.load_state_dict(sd);
  EXPECT_EQ(fresh.groups()[0].lr, 0.025);
}

void expect_error(const std::function<void()>& f, const std::string& fragment) {
  try {
    f();
    ADD_FAILURE() << "expected an Error containing '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(OptimState, LoadRejectsMismatchesAndLeavesStateIntact) {
  Generator gen(test::run_seed());
  Tensor a = random_param({3, 2}, gen), b = random_param({5}, gen);
  optim::Adam adam(std::vector<Tensor>{a, b}, {.lr = 0.01});
  a.set_grad(randn({3, 2}, {}, &gen));
  b.set_grad(randn({5}, {}, &gen));
  adam.step();
  const auto good = adam.state_dict();

  optim::SGD sgd(std::vector<Tensor>{a, b});
  expect_error([&] { sgd.load_state_dict(good); }, "saved by Adam, not SGD");
  optim::AdamW adamw(std::vector<Tensor>{a, b});
  expect_error([&] { adamw.load_state_dict(good); }, "saved by Adam, not AdamW");

  optim::Adam two_groups({ParamGroup{{a}}, ParamGroup{{b}}});
  expect_error([&] { two_groups.load_state_dict(good); }, "expected 2 parameter groups");

  Tensor c = random_param({3, 3}, gen);
  optim::Adam other_shape(std::vector<Tensor>{c, b});
  expect_error([&] { other_shape.load_state_dict(good); }, "has shape [3, 2]");

  optim::Adam fewer(std::vector<Tensor>{a});
  expect_error([&] { fewer.load_state_dict(good); }, "group 0 has 1 parameters");

  auto missing = good;
  missing.erase("param_groups.0.beta2");
  expect_error([&] { adam.load_state_dict(missing); }, "missing key 'param_groups.0.beta2'");
  auto extra = good;
  extra["state.0.0.max_exp_avg_sq"] = zeros({3, 2});
  expect_error([&] { adam.load_state_dict(extra); }, "unexpected key 'state.0.0.max_exp_avg_sq'");

  // The failed loads changed nothing.
  const auto after = adam.state_dict();
  ASSERT_EQ(after.size(), good.size());
  for (const auto& [k, v] : good) EXPECT_EQ(after.at(k).to_vector<double>(), v.to_vector<double>()) << k;
}

TEST(OptimOptions, InvalidSettingsThrow) {
  Generator gen(test::run_seed());
  Tensor a = random_param({2}, gen);
  expect_error([&] { optim::SGD(std::vector<Tensor>{a}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}); },
               "nesterov needs momentum > 0 and dampening 0");
  expect_error([&] { optim::Adam(std::vector<Tensor>{a}, {.lr = -1.0}); }, "expected lr >= 0");
  expect_error([&] { optim::Adam(std::vector<Tensor>{a}, {.beta2 = 1.0}); }, "expected 0 <= beta2 < 1");
  expect_error([&] { optim::Adam(std::vector<Tensor>{a, a}); }, "appears more than once");
  expect_error([&] { optim::Adam(std::vector<Tensor>{a * 2.0}); }, "non-leaf");
  ParamGroup g{{a}};
  g.momentum = 0.9;
  expect_error([&] { optim::Adam(std::vector<ParamGroup>{g}); }, "SGD settings");
}

}  // namespace
}  // namespace sadanet
