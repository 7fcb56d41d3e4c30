// `sadanet selfcheck`: a quick end-to-end check that the engine computes correctly on this
// machine (this CPU's kernels, thread count and, where present, GPUs). Each check prints PASS or
// FAIL with a one-line reason; any failure makes the command exit with 1.
#include <chrono>
#include <cmath>
#include <functional>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "sadanet/optim.h"
#include "sadanet/sadanet.h"

namespace sadanet::cli {
namespace {

struct Outcome {
  bool pass;
  std::string detail;
  bool skipped = false;  // could not run here (counts as neither pass nor failure)
};

std::string fmt(double v) {
  std::ostringstream os;
  os << std::setprecision(3) << v;
  return os.str();
}

// ---- known values ----------------------------------------------------------------------------

Outcome check_known_values(uint64_t) {
  Tensor a = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = from_vector<float>({1, 0, 0, 1, 1, 1}, {3, 2});
  const auto c = matmul(a, b).to_vector<float>();
  if (c != std::vector<float>{4, 5, 10, 11}) return {false, "matmul [2,3]x[3,2] gave wrong values"};
  if (sum(a).item() != 21.0) return {false, "sum gave " + fmt(sum(a).item()) + ", want 21"};
  const auto rows = sum(softmax(a, 1), {1}).to_vector<double>();
  for (double r : rows)
    if (std::abs(r - 1.0) > 1e-6) return {false, "softmax rows sum to " + fmt(r)};
  return {true, "matmul, sum, softmax on hand-computed values"};
}

// ---- gradients against central finite differences, in f64 --------------------------------------

using ScalarFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Largest |autograd - finite difference| / (1e-6 + 1e-4 |fd|) over every input element (<= 1 passes).
double gradcheck(const ScalarFn& f, std::vector<Tensor> inputs) {
  for (auto& x : inputs) x.set_requires_grad(true);
  f(inputs).backward();
  const double h = 1e-6;
  double worst = 0.0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const auto analytic = inputs[k].grad().to_vector<double>();
    const auto base = inputs[k].to_vector<double>();
    NoGradGuard guard;
    auto shifted = inputs;
    for (size_t i = 0; i < base.size(); ++i) {
      auto v = base;
      v[i] = base[i] + h;
      shifted[k] = from_vector<double>(v, inputs[k].shape());
      const double up = f(shifted).item();
      v[i] = base[i] - h;
      shifted[k] = from_vector<double>(v, inputs[k].shape());
      const double down = f(shifted).item();
      const double fd = (up - down) / (2 * h);
      worst = std::max(worst, std::abs(analytic[i] - fd) / (1e-6 + 1e-4 * std::abs(fd)));
    }
  }
  return worst;
}

Outcome gradcheck_outcome(double worst, const std::string& what) {
  return {worst <= 1.0, what + " (worst error " + fmt(worst) + " of tolerance)"};
}

Outcome check_grad_mlp(uint64_t seed) {
  Generator gen(seed);
  const TensorOptions f64(DType::f64);
  Tensor target = from_vector<int64_t>({0, 2, 1, 2}, {4});
  ScalarFn f = [&](const std::vector<Tensor>& in) {
    Tensor h = linear(in[0], in[1], in[2]);
    Tensor z = h / sqrt(square(h) + 1.0);  // smooth, so differences stay off kinks
    return cross_entropy(matmul(z, in[3]), target) + 0.1 * mean(square(in[1]));
  };
  return gradcheck_outcome(gradcheck(f, {randn({4, 5}, f64, &gen), randn({6, 5}, f64, &gen),
                                         randn({6}, f64, &gen), randn({6, 3}, f64, &gen)}),
                           "linear, matmul, softmax cross-entropy vs finite differences");
}

Outcome check_grad_conv(uint64_t seed) {
  Generator gen(seed + 1);
  const TensorOptions f64(DType::f64);
  Tensor target = from_vector<int64_t>({1, 0}, {2});
  ScalarFn f = [&](const std::vector<Tensor>& in) {
    Tensor y = conv2d(in[0], in[1], in[2], Conv2dParams::make(1, 1));
    y = batch_norm(y, in[3], in[4], zeros({3}, f64), ones({3}, f64), BatchNormMode::train);
    // Square before pooling: the pooled mean of a batch-normalised map is just its bias.
    return cross_entropy(global_avg_pool2d(square(y)), target);
  };
  return gradcheck_outcome(gradcheck(f, {randn({2, 2, 5, 5}, f64, &gen), randn({3, 2, 3, 3}, f64, &gen),
                                         randn({3}, f64, &gen), uniform({3}, 0.5, 1.5, f64, &gen),
                                         randn({3}, f64, &gen)}),
                           "conv2d, batch norm (train), pooling vs finite differences");
}

// ---- training ------------------------------------------------------------------------------------

// Three Gaussian blobs in 8-D; a 2-layer MLP trained full-batch with Adam must fit them.
Outcome check_train_mlp(uint64_t seed) {
  Generator gen(seed + 2);
  const int64_t n = 96, d = 8, classes = 3;
  Tensor centers = mul(randn({classes, d}, {}, &gen), 2.0);
  std::vector<int64_t> labels(n);
  for (int64_t i = 0; i < n; ++i) labels[i] = i % classes;
  Tensor y = from_vector<int64_t>(labels, {n});
  Tensor x = index_select(centers, 0, y) + randn({n, d}, {}, &gen);
  Tensor w1 = mul(randn({32, d}, {}, &gen), 1.0 / std::sqrt(d)), b1 = zeros({32});
  Tensor w2 = mul(randn({classes, 32}, {}, &gen), 1.0 / std::sqrt(32.0)), b2 = zeros({classes});
  for (Tensor* p : {&w1, &b1, &w2, &b2}) p->set_requires_grad(true);
  optim::Adam opt(std::vector<Tensor>{w1, b1, w2, b2}, {.lr = 1e-2});
  auto forward = [&] { return linear(relu(linear(x, w1, b1)), w2, b2); };
  double first = 0, last = 0;
  for (int step = 0; step < 100; ++step) {
    opt.zero_grad();
    Tensor loss = cross_entropy(forward(), y);
    (step == 0 ? first : last) = loss.item();
    loss.backward();
    opt.step();
  }
  NoGradGuard guard;
  const auto predicted = argmax(forward(), 1).to_vector<int64_t>();
  double acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += predicted[i] == labels[i] ? 1.0 / n : 0.0;
  const bool ok = std::isfinite(last) && last < 0.3 * first && acc >= 0.9;
  return {ok, "MLP + Adam, 100 steps: loss " + fmt(first) + " -> " + fmt(last) + ", accuracy " + fmt(acc)};
}

// Horizontal vs vertical stripes under noise; conv -> batch norm -> relu -> pools -> linear with
// SGD + Nesterov momentum must learn to tell them apart.
Outcome check_train_conv(uint64_t seed) {
  Generator gen(seed + 3);
  const int64_t n = 32, s = 8;
  std::vector<float> img(n * s * s);
  std::vector<int64_t> labels(n);
  for (int64_t i = 0; i < n; ++i) {
    labels[i] = i % 2;
    for (int64_t r = 0; r < s; ++r)
      for (int64_t c = 0; c < s; ++c) img[(i * s + r) * s + c] = ((labels[i] ? c : r) % 2) ? 1.0f : -1.0f;
  }
  Tensor x = from_vector<float>(img, {n, 1, s, s}) + mul(randn({n, 1, s, s}, {}, &gen), 0.5);
  Tensor y = from_vector<int64_t>(labels, {n});
  Tensor w = mul(randn({4, 1, 3, 3}, {}, &gen), 1.0 / 3.0), cb = zeros({4});
  Tensor gamma = ones({4}), beta = zeros({4}), rm = zeros({4}), rv = ones({4});
  Tensor fw = mul(randn({2, 4}, {}, &gen), 0.5), fb = zeros({2});
  for (Tensor* p : {&w, &cb, &gamma, &beta, &fw, &fb}) p->set_requires_grad(true);
  optim::SGD opt(std::vector<Tensor>{w, cb, gamma, beta, fw, fb},
                 {.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-4, .nesterov = true});
  double first = 0, last = 0;
  for (int step = 0; step < 60; ++step) {
    opt.zero_grad();
    Tensor h = relu(batch_norm(conv2d(x, w, cb, Conv2dParams::make(1, 1)), gamma, beta, rm, rv,
                               BatchNormMode::train));
    Tensor loss = cross_entropy(linear(global_avg_pool2d(max_pool2d(h, Pool2dParams::make(2, 2, 0))), fw, fb), y);
    (step == 0 ? first : last) = loss.item();
    loss.backward();
    opt.step();
  }
  const bool ok = std::isfinite(last) && last < 0.5 * first;
  return {ok, "conv net + SGD (Nesterov), 60 steps: loss " + fmt(first) + " -> " + fmt(last)};
}

// ---- GPUs ---------------------------------------------------------------------------------------

// Every GPU computes a small forward and backward like the CPU does.
Outcome check_cuda(uint64_t seed) {
  Generator gen(seed + 4);
  Tensor x = randn({16, 24}, {}, &gen), w = randn({10, 24}, {}, &gen), b = randn({10}, {}, &gen);
  Tensor target = from_vector<int64_t>(std::vector<int64_t>(16, 3), {16});
  auto run = [&](Device dev) {
    Tensor wd = w.to(dev).detach();
    wd.set_requires_grad(true);
    Tensor loss = cross_entropy(relu(linear(x.to(dev), wd, b.to(dev))), target.to(dev));
    loss.backward();
    return std::make_pair(loss.item(), wd.grad().to_vector<float>());
  };
  const auto [cpu_loss, cpu_grad] = run(kCPU);
  std::string detail;
  for (int d = 0; d < cuda_device_count(); ++d) {
    std::pair<double, std::vector<float>> got;
    try {
      got = run(Device(DeviceType::cuda, d));
    } catch (const Error& e) {
      // Until the CUDA backend fills every kernel slot, a missing kernel is reported, not failed.
      if (std::string(e.what()).find("has no implementation for device") == std::string::npos) throw;
      return {true, std::string("the CUDA backend is incomplete: ") + e.what(), true};
    }
    const auto& [loss, grad] = got;
    double worst = std::abs(loss - cpu_loss) / (1e-5 + 1e-4 * std::abs(cpu_loss));
    for (size_t i = 0; i < grad.size(); ++i)
      worst = std::max(worst, std::abs(grad[i] - cpu_grad[i]) / (1e-5 + 1e-4 * std::abs(cpu_grad[i])));
    if (worst > 1.0) return {false, "cuda:" + std::to_string(d) + " differs from the CPU (" + fmt(worst) + " of tolerance)"};
    detail += (detail.empty() ? "" : ", ") + std::string("cuda:") + std::to_string(d);
  }
  return {true, "linear + cross-entropy forward/backward on " + detail + " match the CPU"};
}

struct Check {
  const char* name;
  Outcome (*fn)(uint64_t seed);
};

int run_selfcheck(uint64_t seed, int threads) {
  if (threads > 0) set_num_threads(threads);
  std::vector<Check> checks = {{"known values", check_known_values},
                               {"gradients: MLP", check_grad_mlp},
                               {"gradients: conv", check_grad_conv},
                               {"training: MLP", check_train_mlp},
                               {"training: conv", check_train_conv}};
  if (cuda_device_count() > 0) checks.push_back({"cuda vs cpu", check_cuda});
  std::cout << "sadanet " << version() << " selfcheck (seed " << seed << ", " << num_threads()
            << " threads)\n";
  int failed = 0, skipped = 0;
  for (const auto& c : checks) {
    const auto t0 = std::chrono::steady_clock::now();
    Outcome o;
    try {
      o = c.fn(seed);
    } catch (const std::exception& e) {
      o = {false, std::string("threw: ") + e.what()};
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    failed += !o.pass;
    skipped += o.skipped;
    std::cout << "  " << (o.skipped ? "SKIP" : o.pass ? "PASS" : "FAIL") << "  " << std::left << std::setw(17) << c.name
              << o.detail << " [" << static_cast<int>(ms) << " ms]\n";
  }
  std::cout << "selfcheck: " << checks.size() - failed - skipped << "/" << checks.size() << " passed";
  if (skipped) std::cout << ", " << skipped << " skipped";
  std::cout << (failed ? " (FAIL)" : " (PASS)") << "\n";
  return failed ? 1 : 0;
}

}  // namespace

void register_selfcheck(CLI::App& app) {
  auto* cmd = app.add_subcommand("selfcheck", "Check on this machine that gradients are right and small models train");
  auto seed = std::make_shared<uint64_t>(1);
  auto threads = std::make_shared<int>(0);
  cmd->add_option("--seed", *seed, "Seed of the random inputs")->capture_default_str();
  cmd->add_option("--threads", *threads, "CPU threads (0 = OpenMP's default)")->check(non_negative());
  cmd->callback([seed, threads] {
    if (int rc = run_selfcheck(*seed, *threads)) throw CLI::RuntimeError(rc);
  });
}

}  // namespace sadanet::cli
