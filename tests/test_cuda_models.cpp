// Whole models and optimizers on CUDA against the CPU: ResNet-50 training steps (forward, loss,
// backward, batch-norm running statistics, then Adam and SGD with momentum) and eval-mode
// inference, the same weights and inputs on both devices. The training step runs in f64, where
// both backends are exact enough that any disagreement beyond 1e-9 relative is a bug and not
// rounding (in f32 a batch of two 1x1 feature maps in the last stage makes batch norm too
// ill-conditioned to compare gradients tightly); inference is also checked in f32.
// Suite names start with Cuda: ctest label `cuda` (skips without a GPU, fails then under
// SADANET_REQUIRE_GPU=1); under the CUDA simulation build these run on the CPU.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>

#include "cuda_gate.h"
#include "op_table.h"
#include "sadanet/models/resnet.h"
#include "sadanet/sadanet.h"

namespace sadanet {
namespace {

const Device kGpu(DeviceType::cuda, 0);

// max |got - want| / max |want|: the error relative to the tensor's scale, so that elements near
// zero (most of a gradient) are judged by what the whole tensor carries, not by their own size.
double scaled_error(const Tensor& got, const Tensor& want) {
  const auto g = got.detach().to(kCPU).contiguous().to_vector<double>();
  const auto w = want.detach().to(kCPU).contiguous().to_vector<double>();
  if (g.size() != w.size()) return INFINITY;
  double diff = 0, scale = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const double d = std::abs(g[i] - w[i]);
    if (std::isnan(d)) return INFINITY;
    diff = std::max(diff, d);
    scale = std::max(scale, std::abs(w[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

// Every named tensor of `a` against its twin in `b`; returns the names that differ.
std::string compare_named(const nn::NamedTensors& a, const nn::NamedTensors& b, double tol, bool grads) {
  std::ostringstream bad;
  for (size_t i = 0; i < a.size(); ++i) {
    const Tensor x = grads ? a[i].second.grad() : a[i].second;
    const Tensor y = grads ? b[i].second.grad() : b[i].second;
    if (!x.defined() || !y.defined()) {
      if (x.defined() != y.defined()) bad << a[i].first << " (defined on one device only) ";
      continue;
    }
    const double e = scaled_error(x, y);
    if (e > tol) bad << a[i].first << " (" << e << ") ";
  }
  return bad.str();
}

struct Pair {
  std::shared_ptr<models::ResNet> cpu, gpu;
};

Pair resnet_pair(DType dtype, uint64_t seed, BatchNormMode bn = BatchNormMode::train) {
  Pair p{models::resnet50(5, seed), models::resnet50(5, seed)};
  for (auto* m : {p.cpu.get(), p.gpu.get()}) {
    m->to(dtype);
    m->set_batch_norm_mode(bn);
  }
  p.gpu->to(kGpu);
  return p;
}

// Cross-entropy training steps on both devices, comparing loss, every gradient and the batch-norm
// buffers to `tol` of their scale, and every parameter after the optimizer to `param_tol`.
template <class Opt>
void compare_steps(Pair& m, Opt& opt_cpu, Opt& opt_gpu, const Tensor& x, const Tensor& target, int steps, double tol,
                   double param_tol) {
  for (int step = 0; step < steps; ++step) {
    m.cpu->zero_grad();
    m.gpu->zero_grad();
    const Tensor loss_cpu = cross_entropy(m.cpu->forward(x).logits, target);
    const Tensor loss_gpu = cross_entropy(m.gpu->forward(x.to(kGpu)).logits, target.to(kGpu));
    ASSERT_EQ(loss_gpu.device().type, DeviceType::cuda);
    EXPECT_LE(scaled_error(loss_gpu, loss_cpu), tol) << "step " << step << ": loss " << loss_gpu.to(kCPU).item()
                                                         << " vs " << loss_cpu.item();
    loss_cpu.backward();
    loss_gpu.backward();
    EXPECT_EQ(compare_named(m.gpu->named_parameters(), m.cpu->named_parameters(), tol, true), "")
        << "step " << step << ": gradients";
    EXPECT_EQ(compare_named(m.gpu->named_buffers(), m.cpu->named_buffers(), tol, false), "")
        << "step " << step << ": batch-norm buffers";
    opt_cpu.step();
    opt_gpu.step();
    EXPECT_EQ(compare_named(m.gpu->named_parameters(), m.cpu->named_parameters(), param_tol, false), "")
        << "step " << step << ": parameters after " << opt_cpu.name();
  }
}

// Frozen batch norm (an affine map with the running statistics), so that the comparison is as
// well conditioned as the convolutions themselves: every conv, pool, add, the classifier, the loss
// and Adam, forward and backward, twice.
TEST(CudaResNet50, TrainingStepsWithAdamMatchCpuInF64) {
  SADANET_REQUIRE_CUDA();
  Pair m = resnet_pair(DType::f64, 3, BatchNormMode::frozen);
  Generator gen(test::run_seed());
  const Tensor x = randn({2, 3, 32, 32}, TensorOptions(DType::f64), &gen);
  const Tensor target = from_vector<int64_t>({1, 4}, {2});
  optim::Adam cpu(m.cpu->parameters(), {}), gpu(m.gpu->parameters(), {});
  // Adam's step lr * m / (sqrt(v) + eps) is most sensitive where |g| is near eps: there a rounding
  // difference of 1e-16 of the gradient's scale moves the step by up to lr * 1e-16 * scale / eps,
  // about 1e-10 of a bias of size lr (seen: 1.04e-10). Parameters are held to 1e-7 of their scale.
  compare_steps(m, cpu, gpu, x, target, 2, 1e-10, 1e-7);
}

TEST(CudaResNet50, TrainingStepsWithSgdMatchCpuInF64) {
  SADANET_REQUIRE_CUDA();
  Pair m = resnet_pair(DType::f64, 5, BatchNormMode::frozen);
  Generator gen(test::run_seed() + 1);
  const Tensor x = randn({2, 3, 32, 32}, TensorOptions(DType::f64), &gen);
  const Tensor target = from_vector<int64_t>({0, 3}, {2});
  optim::SgdOptions o;
  o.lr = 0.05;
  o.momentum = 0.9;
  o.weight_decay = 1e-4;
  o.nesterov = true;
  optim::SGD cpu(m.cpu->parameters(), o), gpu(m.gpu->parameters(), o);
  compare_steps(m, cpu, gpu, x, target, 2, 1e-10, 1e-10);
}

// Batch statistics: at 64x64 the last stage's maps are 2x2, so each channel's statistics see 8
// values (at 32x32 a batch of two would give 2, and batch norm of two values amplifies a rounding
// difference a thousandfold per block, in f64 too).
TEST(CudaResNet50, TrainModeStepMatchesCpuInF64) {
  SADANET_REQUIRE_CUDA();
  Pair m = resnet_pair(DType::f64, 7, BatchNormMode::train);
  Generator gen(test::run_seed() + 3);
  const Tensor x = randn({2, 3, 64, 64}, TensorOptions(DType::f64), &gen);
  const Tensor target = from_vector<int64_t>({2, 0}, {2});
  // SGD: Adam's step g / (sqrt(v) + eps) turns the rounding noise of a gradient element that is
  // zero in exact arithmetic into a full-size step of either sign, which is no bug to look for.
  optim::SgdOptions o;
  o.lr = 0.1;
  optim::SGD cpu(m.cpu->parameters(), o), gpu(m.gpu->parameters(), o);
  compare_steps(m, cpu, gpu, x, target, 1, 1e-8, 1e-8);
}

TEST(CudaResNet50, EvalForwardMatchesCpuInF32) {
  SADANET_REQUIRE_CUDA();
  Pair m = resnet_pair(DType::f32, 9);
  m.cpu->eval();
  m.gpu->eval();
  Generator gen(test::run_seed() + 2);
  const Tensor x = randn({2, 3, 64, 64}, TensorOptions(), &gen);
  const auto yc = m.cpu->forward(x), yg = m.gpu->forward(x.to(kGpu));
  EXPECT_LE(scaled_error(yg.logits, yc.logits), 1e-4);
  EXPECT_LE(scaled_error(yg.pooled, yc.pooled), 1e-4);
  EXPECT_LE(scaled_error(yg.feature_map, yc.feature_map), 1e-4);
}

}  // namespace
}  // namespace sadanet
