// Memory-bound CPU ops at ResNet-50 activation sizes ([8, 256, 56, 56] f32, 25.7 MB), timed
// through the public ops (allocation included, as a model sees them). GB/s counts the bytes each
// op must move at least (inputs read once, output written once), so it compares directly with
// the machine's memory bandwidth.
#include <benchmark/benchmark.h>
#include <omp.h>

#include "sadanet/sadanet.h"

namespace {
using namespace sadanet;

const Shape kAct{8, 256, 56, 56};

void set_gbps(benchmark::State& st, double bytes_per_iter) {
  st.counters["GB/s"] = benchmark::Counter(bytes_per_iter * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

struct Threads {
  int prev;
  explicit Threads(int n) : prev(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~Threads() { omp_set_num_threads(prev); }
};

double bytes(const Shape& s) { return 4.0 * static_cast<double>(shape_numel(s)); }

// Times fn(x, y) -> Tensor; `traffic` is the bytes moved per call.
template <class Fn> void run(benchmark::State& st, const Shape& xs, const Shape& ys, double traffic, Fn fn) {
  Threads t(static_cast<int>(st.range(0)));
  Generator gen(1);
  Tensor x = randn(xs, {}, &gen), y = randn(ys, {}, &gen);
  for (auto _ : st) {
    Tensor out = fn(x, y);
    benchmark::DoNotOptimize(out.raw_data());
  }
  set_gbps(st, traffic);
}

void BM_add(benchmark::State& st) {
  run(st, kAct, kAct, 3 * bytes(kAct), [](const Tensor& a, const Tensor& b) { return add(a, b); });
}
// Per-channel bias: the row/column broadcast path.
void BM_add_channel_bias(benchmark::State& st) {
  run(st, kAct, {1, 256, 1, 1}, 2 * bytes(kAct), [](const Tensor& a, const Tensor& b) { return add(a, b); });
}
void BM_relu(benchmark::State& st) {
  run(st, kAct, {1}, 2 * bytes(kAct), [](const Tensor& a, const Tensor&) { return relu(a); });
}
void BM_mul(benchmark::State& st) {
  run(st, kAct, kAct, 3 * bytes(kAct), [](const Tensor& a, const Tensor& b) { return mul(a, b); });
}
void BM_sum_all(benchmark::State& st) {
  run(st, kAct, {1}, bytes(kAct), [](const Tensor& a, const Tensor&) { return sum(a); });
}
// Batch-norm style statistics: per channel over (N, H, W), a non-adjacent reduction.
void BM_sum_per_channel(benchmark::State& st) {
  run(st, kAct, {1}, bytes(kAct), [](const Tensor& a, const Tensor&) { return sum(a, {0, 2, 3}); });
}
// Global average pooling shape: over (H, W), contiguous spans.
void BM_mean_spatial(benchmark::State& st) {
  run(st, kAct, {1}, bytes(kAct), [](const Tensor& a, const Tensor&) { return mean(a, {2, 3}); });
}
// Softmax over the last dim of rows of 56 (attention-like) and over the channel dim (inner > 1).
void BM_softmax_last(benchmark::State& st) {
  run(st, kAct, {1}, 2 * bytes(kAct), [](const Tensor& a, const Tensor&) { return softmax(a, -1); });
}
void BM_softmax_channels(benchmark::State& st) {
  run(st, kAct, {1}, 2 * bytes(kAct), [](const Tensor& a, const Tensor&) { return softmax(a, 1); });
}

#define SADANET_ELEMENTWISE_BENCH(fn) BENCHMARK(fn)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMillisecond)
SADANET_ELEMENTWISE_BENCH(BM_add);
SADANET_ELEMENTWISE_BENCH(BM_add_channel_bias);
SADANET_ELEMENTWISE_BENCH(BM_relu);
SADANET_ELEMENTWISE_BENCH(BM_mul);
SADANET_ELEMENTWISE_BENCH(BM_sum_all);
SADANET_ELEMENTWISE_BENCH(BM_sum_per_channel);
SADANET_ELEMENTWISE_BENCH(BM_mean_spatial);
SADANET_ELEMENTWISE_BENCH(BM_softmax_last);
SADANET_ELEMENTWISE_BENCH(BM_softmax_channels);

}  // namespace
