// Step 2 of SADA's stain augmentation: k-means over the batch's stain matrices. Small (N points
// of 6 or 9 dimensions), so plain f64 code; deterministic for a given seed.
#include <algorithm>
#include <cmath>
#include <limits>

#include "sadanet/error.h"
#include "stain/stain_internal.h"

namespace sadanet::stain {

namespace {

struct Run {
  std::vector<int> labels;
  std::vector<double> centroids;  // kk x dim
  int kk = 0;
  double inertia = 0;
  int iterations = 0;
};

double dist2(const double* a, const double* b, int dim) {
  double s = 0;
  for (int d = 0; d < dim; ++d) {
    const double t = a[d] - b[d];
    s += t * t;
  }
  return s;
}

// Nearest centroid (lowest index on ties).
int nearest(const double* x, const std::vector<double>& cent, int kk, int dim, double* best_d = nullptr) {
  int best = 0;
  double bd = std::numeric_limits<double>::infinity();
  for (int c = 0; c < kk; ++c) {
    const double d = dist2(x, &cent[static_cast<size_t>(c) * dim], dim);
    if (d < bd) { bd = d; best = c; }
  }
  if (best_d) *best_d = bd;
  return best;
}

void update_centroids(const std::vector<double>& X, int n, int dim, int kk, const std::vector<int>& labels,
                      std::vector<double>& cent, std::vector<int>& counts) {
  std::vector<double> sum(static_cast<size_t>(kk) * dim, 0.0);
  counts.assign(kk, 0);
  for (int i = 0; i < n; ++i) {
    ++counts[labels[i]];
    for (int d = 0; d < dim; ++d) sum[static_cast<size_t>(labels[i]) * dim + d] += X[static_cast<size_t>(i) * dim + d];
  }
  for (int c = 0; c < kk; ++c)
    if (counts[c] > 0)
      for (int d = 0; d < dim; ++d) cent[static_cast<size_t>(c) * dim + d] = sum[static_cast<size_t>(c) * dim + d] / counts[c];
}

// Gives every empty cluster the point farthest from its own centroid among clusters with more
// than one point (lowest index on ties). Terminates: each pass fills one cluster or stops.
void fill_empty(const std::vector<double>& X, int n, int dim, int kk, std::vector<int>& labels,
                std::vector<double>& cent, std::vector<int>& counts) {
  for (int c = 0; c < kk; ++c) {
    if (counts[c] > 0) continue;
    int far = -1;
    double fd = 0;
    for (int i = 0; i < n; ++i) {
      if (counts[labels[i]] < 2) continue;
      const double d = dist2(&X[static_cast<size_t>(i) * dim], &cent[static_cast<size_t>(labels[i]) * dim], dim);
      if (d > fd) { fd = d; far = i; }
    }
    if (far < 0) break;  // every point sits on its centroid: nothing to split
    labels[far] = c;
    update_centroids(X, n, dim, kk, labels, cent, counts);
  }
}

Run run_once(const std::vector<double>& X, int n, int dim, int k, uint64_t seed, uint64_t restart, int max_iter) {
  detail::PhiloxStream rng{seed, restart, 0};
  Run r;
  // k-means++: the first centre uniformly, each next one with probability ~ D^2, only among points
  // at a positive distance from every chosen centre.
  std::vector<double> cent;
  std::vector<double> d2(n);
  const int first = rng.next_below(n);
  cent.insert(cent.end(), &X[static_cast<size_t>(first) * dim], &X[static_cast<size_t>(first) * dim] + dim);
  for (int i = 0; i < n; ++i) d2[i] = dist2(&X[static_cast<size_t>(i) * dim], &cent[0], dim);
  int kk = 1;
  while (kk < k) {
    double total = 0;
    for (int i = 0; i < n; ++i) total += d2[i];
    if (!(total > 0)) break;  // no point left that differs from the chosen centres
    const double u = rng.next_double() * total;
    int pick = -1, last_positive = -1;
    double cum = 0;
    for (int i = 0; i < n; ++i) {
      if (!(d2[i] > 0)) continue;
      last_positive = i;
      cum += d2[i];
      if (cum > u) { pick = i; break; }
    }
    if (pick < 0) pick = last_positive;
    const double* p = &X[static_cast<size_t>(pick) * dim];
    cent.insert(cent.end(), p, p + dim);
    for (int i = 0; i < n; ++i)
      d2[i] = std::min(d2[i], dist2(&X[static_cast<size_t>(i) * dim], p, dim));
    ++kk;
  }
  // Lloyd.
  std::vector<int> labels(n), counts;
  for (int i = 0; i < n; ++i) labels[i] = nearest(&X[static_cast<size_t>(i) * dim], cent, kk, dim);
  int it = 0;
  for (; it < max_iter; ++it) {
    update_centroids(X, n, dim, kk, labels, cent, counts);
    fill_empty(X, n, dim, kk, labels, cent, counts);
    bool changed = false;
    for (int i = 0; i < n; ++i) {
      const int l = nearest(&X[static_cast<size_t>(i) * dim], cent, kk, dim);
      if (l != labels[i]) { labels[i] = l; changed = true; }
    }
    if (!changed) { ++it; break; }
  }
  update_centroids(X, n, dim, kk, labels, cent, counts);
  fill_empty(X, n, dim, kk, labels, cent, counts);
  r.inertia = 0;
  for (int i = 0; i < n; ++i)
    r.inertia += dist2(&X[static_cast<size_t>(i) * dim], &cent[static_cast<size_t>(labels[i]) * dim], dim);
  r.labels = std::move(labels);
  r.centroids = std::move(cent);
  r.kk = kk;
  r.iterations = it;
  return r;
}

}  // namespace

KMeansResult kmeans(const float* points, int n, int dim, int k, uint64_t seed, int restarts, int max_iter) {
  SADANET_CHECK(n >= 0, "stain::kmeans: expected n >= 0 points, got ", n);
  SADANET_CHECK(dim >= 1, "stain::kmeans: expected dim >= 1, got ", dim);
  SADANET_CHECK(k >= 1, "stain::kmeans: expected k >= 1, got ", k);
  SADANET_CHECK(n == 0 || points != nullptr, "stain::kmeans: expected point data, got a null pointer");
  KMeansResult out;
  out.dim = dim;
  if (n == 0) return out;
  std::vector<double> X(static_cast<size_t>(n) * dim);
  for (size_t i = 0; i < X.size(); ++i) {
    const double v = points[i];
    X[i] = std::isfinite(v) ? v : 0.0;  // a non-finite coordinate would poison every distance
  }
  Run best;
  bool have = false;
  for (int r = 0; r < std::max(restarts, 1); ++r) {
    Run run = run_once(X, n, dim, k, seed, static_cast<uint64_t>(r), std::max(max_iter, 1));
    if (!have || run.inertia < best.inertia) {
      best = std::move(run);
      out.restart = r;
      have = true;
    }
  }
  // Number clusters by first appearance, dropping any that ended empty.
  std::vector<int> remap(best.kk, -1);
  int next = 0;
  out.labels.resize(n);
  for (int i = 0; i < n; ++i) {
    int& m = remap[best.labels[i]];
    if (m < 0) m = next++;
    out.labels[i] = m;
  }
  out.k = next;
  out.centroids.assign(static_cast<size_t>(next) * dim, 0.0f);
  for (int c = 0; c < best.kk; ++c)
    if (remap[c] >= 0)
      for (int d = 0; d < dim; ++d)
        out.centroids[static_cast<size_t>(remap[c]) * dim + d] = static_cast<float>(best.centroids[static_cast<size_t>(c) * dim + d]);
  out.inertia = best.inertia;
  out.iterations = best.iterations;
  return out;
}

KMeansResult kmeans(const std::vector<std::array<float, 6>>& points, int k, uint64_t seed, int restarts) {
  return kmeans(points.empty() ? nullptr : points.front().data(), static_cast<int>(points.size()), 6, k, seed,
                restarts);
}

}  // namespace sadanet::stain
