// `sadanet bench`: end-to-end model throughput (images/s), inference or a full training step
// (forward, cross-entropy, backward, Adam), after a warm-up.
#include <chrono>
#include <iostream>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "sadanet/models/resnet.h"
#include "sadanet/optim.h"
#include "sadanet/runtime.h"

namespace sadanet::cli {
namespace {

struct BenchArgs {
  std::string model = "resnet50", mode = "infer", device = "cpu";
  int64_t batch = 8, size = 224, iters = 5, warmup = 1, classes = 1000;
  int threads = 0;
  bool json = false;
};

void run_bench(const BenchArgs& a) {
  Device dev = Device::parse(require_device(a.device, "bench"));
  if (a.threads > 0) set_num_threads(a.threads);
  auto model = models::resnet50(a.classes, /*seed=*/0);
  model->to(dev);
  const bool train = a.mode == "train";
  model->train(train);
  Generator gen(1);
  Tensor x = randn({a.batch, 3, a.size, a.size}, TensorOptions(DType::f32), &gen).to(dev);
  Tensor y = mul(rand({a.batch}, TensorOptions(DType::f64), &gen), static_cast<double>(a.classes)).to(DType::i64).to(dev);
  std::unique_ptr<optim::Adam> opt;
  if (train) opt = std::make_unique<optim::Adam>(model->parameters(), optim::AdamOptions{5e-5});

  auto step = [&]() -> double {
    if (!train) {
      NoGradGuard ng;
      return sum(model->forward(x).logits).item();  // item() waits for the device
    }
    opt->zero_grad();
    Tensor loss = cross_entropy(model->forward(x).logits, y);
    loss.backward();
    opt->step();
    return loss.item();
  };
  for (int64_t i = 0; i < a.warmup; ++i) step();
  if (dev.is_cuda()) cuda_reset_peak_memory(dev.index);
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < a.iters; ++i) step();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double ips = static_cast<double>(a.batch * a.iters) / secs;
  const CudaMemory mem = dev.is_cuda() ? cuda_memory(dev.index) : CudaMemory{};
  constexpr double kMiB = 1 << 20;
  if (a.json) {
    nlohmann::json j{{"model", a.model},   {"mode", a.mode},   {"device", dev.str()}, {"batch", a.batch},
                     {"size", a.size},     {"iters", a.iters}, {"threads", num_threads()},
                     {"images_per_s", ips}, {"ms_per_step", 1000.0 * secs / a.iters}};
    if (dev.is_cuda()) {
      j["peak_allocated_mib"] = mem.peak / kMiB;
      j["reserved_mib"] = mem.reserved / kMiB;
    }
    std::cout << j.dump() << "\n";
  } else {
    std::cout << a.model << " " << a.mode << " on " << dev.str() << " (" << num_threads() << " threads), batch "
              << a.batch << ", " << a.size << "x" << a.size << ": " << ips << " images/s, "
              << 1000.0 * secs / a.iters << " ms/step over " << a.iters << " steps\n";
    if (dev.is_cuda())
      std::cout << "device memory over the timed steps: peak in tensors " << mem.peak / kMiB << " MiB, held from cudaMalloc "
                << mem.reserved / kMiB << " MiB\n";
  }
}

}  // namespace

void register_bench(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* c = app.add_subcommand("bench", "Time a model: images/s for inference or a training step");
  c->add_option("--model", a->model, "Model")->check(CLI::IsMember({"resnet50"}));
  c->add_option("--mode", a->mode, "infer (forward) or train (forward, backward, Adam)")->check(CLI::IsMember({"infer", "train"}));
  c->add_option("--batch", a->batch, "Images per step")->check(CLI::Range(1, 4096));
  c->add_option("--size", a->size, "Input height and width")->check(CLI::Range(32, 4096));
  c->add_option("--device", a->device, "cpu, cuda or cuda:N");
  c->add_option("--iters", a->iters, "Timed steps")->check(CLI::Range(1, 100000));
  c->add_option("--warmup", a->warmup, "Untimed steps first")->check(CLI::Range(0, 1000));
  c->add_option("--classes", a->classes, "Classifier width")->check(CLI::Range(1, 100000));
  c->add_option("--threads", a->threads, "CPU threads (default: all)")->check(CLI::Range(0, 1024));
  c->add_flag("--json", a->json, "Print one JSON object: {\"images_per_s\": ...}");
  c->callback([a] { run_bench(*a); });
}

}  // namespace sadanet::cli
