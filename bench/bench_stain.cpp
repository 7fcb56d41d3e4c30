// SADA stain augmentation on the CPU: a batch of 96 images at 224 x 224 through the whole pipeline
// (decompose every image, k-means over the batch, render N x (k-1) views), images/s.
// Real images come from $SADANET_WBC_DIR (default ../shared/data/wbc, the white-cell sets: 32 per
// lab); without them the real-image cases are skipped and the synthetic smears still run.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>

#include <sys/resource.h>

#include "sadanet/data/image.h"
#include "sadanet/stain.h"

namespace {

using namespace sadanet;
constexpr int kBatch = 96, kSize = 224;

// Synthetic smears: a peach field, pink red cells and a purple nucleus, three "labs" with
// different stain vectors, 8-bit Beer-Lambert rendering with a little noise.
Tensor synthetic_batch() {
  Tensor t = empty({kBatch, 3, kSize, kSize}, TensorOptions(DType::u8));
  std::mt19937_64 rng(42);
  std::normal_distribution<float> noise(0.0f, 0.01f);
  const float labs[3][9] = {{0.47f, 0.85f, 0.22f, 0.36f, 0.66f, 0.65f, 0.0f, 0.11f, 0.23f},
                            {0.62f, 0.75f, 0.21f, 0.47f, 0.64f, 0.60f, 0.2f, 0.2f, 0.2f},
                            {0.32f, 0.92f, 0.24f, 0.05f, 0.84f, 0.54f, 0.0f, 0.0f, 0.55f}};
  const int64_t n = int64_t{kSize} * kSize;
  for (int i = 0; i < kBatch; ++i) {
    const float* L = labs[i % 3];
    uint8_t* img = t.data<uint8_t>() + int64_t{i} * 3 * n;
    const float cx = 112 + std::uniform_real_distribution<float>(-20, 20)(rng), r = 40;
    for (int y = 0; y < kSize; ++y)
      for (int x = 0; x < kSize; ++x) {
        const float d = std::hypot(x - cx, y - 112.0f);
        float h0 = 0, h1 = 0;
        if (d < r * 0.6f) h0 = 1.2f;
        else if (d < r) { h0 = 0.2f; h1 = 0.4f; }
        else if (std::fmod(x * 0.07f + std::sin(y * 0.05f) * 3, 2.0f) < 1.0f) h1 = 0.5f;
        for (int c = 0; c < 3; ++c) {
          const float od = L[c] * h0 + L[3 + c] * h1 + L[6 + c] + noise(rng);
          img[c * n + y * kSize + x] = static_cast<uint8_t>(std::clamp(std::lround(255 * std::exp(-od)), 1L, 255L));
        }
      }
  }
  return t;
}

// 32 images from each lab folder, resized to 224 x 224; undefined when the data is missing.
Tensor real_batch() {
  namespace fs = std::filesystem;
  const char* env = std::getenv("SADANET_WBC_DIR");
  const fs::path root = env ? env : "../shared/data/wbc";
  std::vector<fs::path> picked;
  for (const char* lab : {"acevedo20", "zheng18", "bccd"}) {
    std::vector<fs::path> files;
    if (!fs::is_directory(root / lab)) return Tensor();
    for (const auto& e : fs::recursive_directory_iterator(root / lab))
      if (e.is_regular_file()) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (size_t j = 0; j < 32 && !files.empty(); ++j) picked.push_back(files[(j * files.size()) / 32]);
  }
  if (picked.size() != kBatch) return Tensor();
  Tensor t = empty({kBatch, 3, kSize, kSize}, TensorOptions(DType::u8));
  for (int i = 0; i < kBatch; ++i) {
    const Tensor img = data::to_u8_tensor(data::resize_bilinear(data::load_image(picked[i].string()), kSize, kSize));
    std::memcpy(t.data<uint8_t>() + int64_t{i} * img.numel(), img.data<uint8_t>(), img.numel());
  }
  return t;
}

void run(benchmark::State& state, const Tensor& batch, stain::StainVariant variant) {
  if (!batch.defined()) {
    state.SkipWithError("no white-cell images (set SADANET_WBC_DIR)");
    return;
  }
  const auto opt = stain::StainAugmentOptions::for_variant(variant);
  Generator gen(7);
  stain::AugmentedBatch out;
  double decompose = 0, cluster = 0, restain = 0;
  // CPU time of every thread (getrusage), next to the wall clock: on a machine shared with other
  // work the wall clock depends on the share of the cores this process gets.
  auto cpu_s = [] {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec * 1e-6;
  };
  const double cpu0 = cpu_s();
  for (auto _ : state) {
    stain::stain_augment(batch, opt, gen, out);
    decompose += out.decompose_ms;
    cluster += out.cluster_ms;
    restain += out.restain_ms;
  }
  const double it = static_cast<double>(state.iterations());
  const double cpu = cpu_s() - cpu0;
  state.counters["images/s"] = benchmark::Counter(it * kBatch, benchmark::Counter::kIsRate);
  state.counters["images/cpu_s"] = cpu > 0 ? it * kBatch / cpu : 0.0;  // per CPU-second, all threads
  state.counters["decompose_ms"] = decompose / it;
  state.counters["cluster_ms"] = cluster / it;
  state.counters["restain_ms"] = restain / it;
}

void BM_StainAugmentSynthetic(benchmark::State& state) {
  static const Tensor batch = synthetic_batch();
  run(state, batch, static_cast<stain::StainVariant>(state.range(0)));
}
void BM_StainAugmentReal(benchmark::State& state) {
  static const Tensor batch = real_batch();
  run(state, batch, static_cast<stain::StainVariant>(state.range(0)));
}
// Arg 0: the paper's variant; 1: the authors' code (reference_code).
BENCHMARK(BM_StainAugmentSynthetic)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_StainAugmentReal)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
