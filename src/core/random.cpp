// Random tensors. Each call takes one offset from the generator; the kernels (one per backend)
// compute element i from (seed, offset, i) only, see src/kernels/philox.h.
#include "sadanet/random.h"

#include "kernels/kernels.h"
#include "sadanet/ops.h"

namespace sadanet {

Generator& default_generator() {
  static Generator g(0x5ada5ada5ada5adaULL);
  return g;
}
void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

namespace {
PhiloxCall next_call(Generator* gen) {
  Generator& g = gen ? *gen : default_generator();
  return PhiloxCall{g.seed(), g.take_offset()};
}
void check_float(const TensorOptions& o, const char* op) {
  SADANET_CHECK(o.dtype == DType::f32 || o.dtype == DType::f64, op, ": expected dtype f32 or f64, got ",
                dtype_name(o.dtype));
}
}  // namespace

Tensor& uniform_(Tensor& t, double lo, double hi, Generator* gen) {
  SADANET_CHECK(t.is_contiguous(), "uniform_: expected a contiguous tensor");
  SADANET_CHECK(lo <= hi, "uniform_: expected lo <= hi, got ", lo, " > ", hi);
  check_float(t.options(), "uniform_");
  NoGradGuard ng;
  kernels::random_uniform().get(t.device())(t, next_call(gen));
  if (lo != 0.0 || hi != 1.0) t.copy_(add(mul(t, hi - lo), lo));
  return t;
}

Tensor& normal_(Tensor& t, double mean, double std, Generator* gen) {
  SADANET_CHECK(t.is_contiguous(), "normal_: expected a contiguous tensor");
  SADANET_CHECK(std >= 0, "normal_: expected std >= 0, got ", std);
  check_float(t.options(), "normal_");
  NoGradGuard ng;
  kernels::random_normal().get(t.device())(t, next_call(gen));
  if (mean != 0.0 || std != 1.0) t.copy_(add(mul(t, std), mean));
  return t;
}

Tensor uniform(const Shape& shape, double lo, double hi, const TensorOptions& opts, Generator* gen) {
  Tensor t = empty(shape, opts.with_requires_grad(false));
  uniform_(t, lo, hi, gen);
  if (opts.requires_grad) t.set_requires_grad(true);
  return t;
}
Tensor normal(const Shape& shape, double mean, double std, const TensorOptions& opts, Generator* gen) {
  Tensor t = empty(shape, opts.with_requires_grad(false));
  normal_(t, mean, std, gen);
  if (opts.requires_grad) t.set_requires_grad(true);
  return t;
}
Tensor rand(const Shape& shape, const TensorOptions& opts, Generator* gen) { return uniform(shape, 0, 1, opts, gen); }
Tensor randn(const Shape& shape, const TensorOptions& opts, Generator* gen) { return normal(shape, 0, 1, opts, gen); }

Tensor bernoulli(const Shape& shape, double p, const TensorOptions& opts, Generator* gen) {
  SADANET_CHECK(p >= 0 && p <= 1, "bernoulli: expected 0 <= p <= 1, got ", p);
  NoGradGuard ng;
  Tensor u = rand(shape, opts.with_requires_grad(false), gen);
  return lt(u, p);  // u < p has probability p
}

Tensor randperm(int64_t n, const TensorOptions& opts, Generator* gen) {
  SADANET_CHECK(n >= 0, "randperm: expected n >= 0, got ", n);
  SADANET_CHECK(opts.dtype == DType::i64 || opts.dtype == DType::i32, "randperm: expected an integer dtype, got ",
                dtype_name(opts.dtype));
  // Sort random 32-bit keys (ties broken by position): the same permutation on any backend.
  Tensor keys = empty({n}, TensorOptions(DType::i64, kCPU));
  if (n) kernels::random_bits().get(kCPU)(keys, next_call(gen));
  auto k = keys.to_vector<int64_t>();
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return k[a] < k[b]; });
  return from_vector(idx, {n}).to(opts.dtype).to(opts.device);
}

}  // namespace sadanet
