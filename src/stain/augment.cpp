// The batch pipeline the trainer calls: decompose every image (in parallel), one k-means over the
// batch's stain matrices, then every view rendered (in parallel).
#include <atomic>
#include <chrono>
#include <cstring>
#include <limits>
#include <algorithm>
#include <exception>
#include <mutex>

#include "cpu/cpu_utils.h"
#include "sadanet/error.h"
#include "stain/stain_internal.h"

namespace sadanet::stain {

StainAugmentOptions StainAugmentOptions::for_variant(StainVariant v) {
  StainAugmentOptions o;
  if (v == StainVariant::reference_code) {
    o.stain = StainOptions::reference_code();
    o.restain.ratio_min = 0.0f;
    o.restain.ratio_max = std::numeric_limits<float>::infinity();
    o.restain.add_background = true;
    o.color_jitter = true;
  }
  return o;
}

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Runs fn(i) for i in [0, n) over the OpenMP threads, handing out items one at a time (images
// differ in cost: the W fit stops when it converges); the first exception is rethrown here.
template <class Fn>
void parallel_items(int64_t n, Fn&& fn) {
  std::exception_ptr error;
  std::mutex mu;
  std::atomic<int64_t> next{0};
  const int64_t workers = std::min<int64_t>(n, std::max(1, omp_get_max_threads()));
  cpu::parallel_for(workers, 1, [&](int64_t b, int64_t e) {
    for (int64_t w = b; w < e; ++w) {
      for (int64_t i = next++; i < n; i = next++) {
        try {
          fn(i);
        } catch (...) {
          std::lock_guard<std::mutex> lock(mu);
          if (!error) error = std::current_exception();
          next = n;
        }
      }
    }
  });
  if (error) std::rethrow_exception(error);
}

// Counter ranges of the call's Philox stream (one offset per stain_augment call).
constexpr uint64_t kKMeansSeedCounter = 0;
constexpr uint64_t kRowCounterBase = uint64_t{1} << 40;
constexpr uint64_t kRowCounterStride = 64;  // draws per output row: target (2) + jitter (14)

}  // namespace

AugmentedBatch stain_augment(const Tensor& images_u8, const StainAugmentOptions& opt, Generator& gen) {
  AugmentedBatch out;
  stain_augment(images_u8, opt, gen, out);
  return out;
}

void stain_augment(const Tensor& images_u8, const StainAugmentOptions& opt, Generator& gen, AugmentedBatch& out) {
  SADANET_CHECK(images_u8.defined(), "stain_augment: expected a u8 [N, 3, H, W] tensor, got an undefined tensor");
  SADANET_CHECK(images_u8.dtype() == DType::u8, "stain_augment: expected dtype u8, got ", dtype_name(images_u8.dtype()));
  SADANET_CHECK(images_u8.dim() == 4 && images_u8.size(1) == 3,
                "stain_augment: expected a u8 [N, 3, H, W] (NCHW, RGB) tensor, got shape ", shape_str(images_u8.shape()));
  SADANET_CHECK(images_u8.device().is_cpu(), "stain_augment: expected a CPU tensor, got one on ",
                images_u8.device().str());
  SADANET_CHECK(opt.k >= 1, "stain_augment: expected k >= 1, got ", opt.k);
  SADANET_CHECK(images_u8.size(2) > 0 && images_u8.size(3) > 0, "stain_augment: expected positive H and W, got ",
                shape_str(images_u8.shape()));
  const Tensor x = images_u8.contiguous();
  const int N = static_cast<int>(x.size(0));
  const int h = static_cast<int>(x.size(2)), w = static_cast<int>(x.size(3));
  const int k = opt.k;
  const int64_t n = static_cast<int64_t>(h) * w;
  const uint8_t* in = x.data<uint8_t>();

  const int64_t rows = static_cast<int64_t>(N) * k;
  const Shape out_shape{rows, 3, h, w};
  Tensor reuse = out.images;
  out = AugmentedBatch{};
  out.n = N;
  out.k = k;
  const bool can_reuse = reuse.defined() && reuse.dtype() == DType::u8 && reuse.device().is_cpu() &&
                         reuse.shape() == out_shape && reuse.is_contiguous() &&
                         reuse.storage() != x.storage();
  out.images = can_reuse ? reuse : empty(out_shape, TensorOptions(DType::u8));
  out.source.assign(rows, 0);
  out.target.assign(rows, 0);
  out.target_cluster.assign(rows, -1);
  out.fallback.assign(rows, 0);
  out.cluster.assign(N, -1);
  out.stains.resize(N);
  if (N == 0) return;
  const uint64_t seed = gen.seed(), offset = gen.take_offset();

  // 1. Decompose.
  auto t0 = Clock::now();
  // Densities of the whole batch (N x 2 x n floats), kept per calling thread from call to call so
  // that a training loop does not page in fresh memory every step.
  thread_local std::vector<float> densities;
  if (densities.size() < static_cast<size_t>(N) * 2 * n) densities.resize(static_cast<size_t>(N) * 2 * n);
  float* const H_all = densities.data();  // (a thread_local named inside the workers would be theirs)
  auto H_of = [H_all, n](int i) { return H_all + static_cast<size_t>(i) * 2 * n; };
  std::vector<StainInfo>& res = out.stains;
  parallel_items(N, [&](int64_t i) {
    detail::decompose_into(in + i * 3 * n, n, 1, h, w, opt.stain, res[i], H_of(static_cast<int>(i)));
  });
  out.decompose_ms = ms_since(t0);

  // 2. Cluster the non-degenerate images' stain matrices (and B for reference_code).
  t0 = Clock::now();
  const bool with_b = opt.stain.variant == StainVariant::reference_code;
  const int dim = with_b ? 9 : 6;
  std::vector<float> feats;
  for (int i = 0; i < N; ++i) {
    if (res[i].degenerate) continue;
    out.clustered.push_back(i);
    feats.insert(feats.end(), res[i].W.begin(), res[i].W.end());
    if (with_b) feats.insert(feats.end(), res[i].B.begin(), res[i].B.end());
  }
  const uint64_t km_seed = (static_cast<uint64_t>(philox::bits(seed, offset, kKMeansSeedCounter)) << 32) |
                           philox::bits(seed, offset, kKMeansSeedCounter + 1);
  out.clustering = kmeans(feats.data(), static_cast<int>(out.clustered.size()), dim, k, km_seed, opt.restarts,
                          opt.max_kmeans_iter);
  std::vector<std::vector<int>> members(out.clustering.k);
  for (size_t m = 0; m < out.clustered.size(); ++m) {
    const int i = out.clustered[m], c = out.clustering.labels[m];
    out.cluster[i] = c;
    members[c].push_back(i);
  }

  // Targets, serially (cheap); every draw comes from the row's own counter range.
  for (int i = 0; i < N; ++i) {
    out.source[i] = i;
    out.target[i] = i;
    out.target_cluster[i] = out.cluster[i];
  }
  std::vector<detail::RenderPlan> plans(rows);
  for (int i = 0; i < N; ++i) {
    const int ci = out.cluster[i];
    int m = 0;
    for (int j = 0; j < k; ++j) {
      if (j == ci) continue;
      if (ci < 0 && m == k - 1) break;  // a degenerate source (no own cluster) has k - 1 views too
      const int64_t row = N + static_cast<int64_t>(i) * (k - 1) + m;
      ++m;
      detail::PhiloxStream rng{seed, offset, kRowCounterBase + static_cast<uint64_t>(row) * kRowCounterStride};
      out.source[row] = i;
      int t = i;
      if (ci < 0) {
        out.fallback[row] = 1;
        out.target[row] = i;
        out.target_cluster[row] = -1;
        continue;
      }
      if (j < out.clustering.k) {
        t = members[j][rng.next_below(static_cast<int>(members[j].size()))];
      } else {
        out.fallback[row] = 1;
        std::vector<int> cand;
        for (int q : out.clustered)
          if (out.cluster[q] != ci) cand.push_back(q);
        if (cand.empty())
          for (int q : out.clustered)
            if (q != i) cand.push_back(q);
        if (!cand.empty()) t = cand[rng.next_below(static_cast<int>(cand.size()))];
      }
      out.target[row] = t;
      out.target_cluster[row] = out.cluster[t];
      plans[row] = detail::make_plan(res[i], res[t], opt.restain);
      if (opt.color_jitter) {
        auto& p = plans[row];
        p.jitter = true;
        p.jitter_order = {0, 1, 2, 3};
        for (int a = 3; a > 0; --a) std::swap(p.jitter_order[a], p.jitter_order[rng.next_below(a + 1)]);
        const ColorJitter& cj = opt.jitter;
        auto draw = [&](float lo, float hi) { return static_cast<float>(lo + (hi - lo) * rng.next_double()); };
        p.jitter_factor[0] = draw(std::max(0.0f, 1.0f - cj.brightness), 1.0f + cj.brightness);
        p.jitter_factor[1] = draw(std::max(0.0f, 1.0f - cj.contrast), 1.0f + cj.contrast);
        p.jitter_factor[2] = draw(std::max(0.0f, 1.0f - cj.saturation), 1.0f + cj.saturation);
        p.jitter_factor[3] = draw(-cj.hue, cj.hue);
      }
    }
  }
  out.cluster_ms = ms_since(t0);

  // 3. Originals, then every view; one work item per source image, so that its densities stay in
  // cache while its k-1 views are rendered.
  t0 = Clock::now();
  uint8_t* dst = out.images.data<uint8_t>();
  const int64_t img_bytes = 3 * n;
  parallel_items(N, [&](int64_t i) {
    const uint8_t* src = in + i * img_bytes;
    std::memcpy(dst + i * img_bytes, src, img_bytes);
    thread_local std::vector<float> scratch;
    for (int m = 0; m < k - 1; ++m) {
      const int64_t row = N + i * (k - 1) + m;
      uint8_t* o = dst + row * img_bytes;
      if (out.cluster[i] < 0)
        std::memcpy(o, src, img_bytes);
      else
        detail::render(H_of(static_cast<int>(i)), n, plans[row], o, n, 1, scratch);
    }
  });
  out.restain_ms = ms_since(t0);
}

}  // namespace sadanet::stain
