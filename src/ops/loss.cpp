// Losses and the small normalisation ops: nll_loss / cross_entropy (PyTorch's weight, reduction
// and ignore_index semantics), mse_loss, normalize, dropout.
#include <cmath>

#include "ops/math_internal.h"

namespace sadanet {
namespace {

using Grads = std::vector<Tensor>;

const char* reduction_name(Reduction r) {
  switch (r) {
    case Reduction::none: return "none";
    case Reduction::mean: return "mean";
    case Reduction::sum: return "sum";
  }
  return "?";
}

// Checks log-probabilities [N, C, d...] (or [C]) against target [N, d...] (or []), and returns
// the kernel's [n, c, inner] view sizes.
struct NllShape {
  int64_t n, c, inner;
};
NllShape check_nll(const char* op, const Tensor& input, const Tensor& target, const Tensor& weight) {
  math::check_floating(op, input, "input");
  math::check_defined(op, target, "target");
  SADANET_CHECK(input.dim() >= 1, op, ": expected input of shape [N, C] or [N, C, d...], got a 0-d tensor");
  SADANET_CHECK(target.dtype() == DType::i64, op, ": expected target to hold i64 class ids, got ",
                dtype_name(target.dtype()));
  SADANET_CHECK(target.device() == input.device(), op, ": expected input and target on one device, got ",
                input.device().str(), " and ", target.device().str());
  Shape want;  // input's shape without the class dim
  if (input.dim() > 1) {
    want = input.shape();
    want.erase(want.begin() + 1);
  }
  SADANET_CHECK(target.shape() == want, op, ": expected target of shape ", shape_str(want), " for input of shape ",
                shape_str(input.shape()), ", got ", shape_str(target.shape()));
  const int64_t c = input.dim() > 1 ? input.size(1) : input.size(0);
  if (weight.defined()) {
    math::check_compatible(op, input, "input", weight, "weight");
    SADANET_CHECK(weight.dim() == 1 && weight.size(0) == c, op, ": expected weight of shape [", c,
                  "] (one per class), got ", shape_str(weight.shape()));
  }
  const int64_t n = input.dim() > 1 ? input.size(0) : 1;
  return {n, c, math::prod(input.shape(), 2, input.shape().size())};
}

Tensor nll_impl(const char* op, const Tensor& logp, const Tensor& target, const Tensor& weight, Reduction reduction,
                int64_t ignore_index) {
  const NllShape sh = check_nll(op, logp, target, weight);
  const int64_t n = sh.n, c = sh.c, inner = sh.inner;
  Tensor lp = logp.detach().contiguous(), tc = target.contiguous();
  Tensor wc = weight.defined() ? weight.detach().contiguous() : Tensor();
  Tensor loss = empty({n, inner}, logp.options());
  Tensor wsum = empty({1}, logp.options());
  kernels::nll_forward().get(logp.device())(lp, tc, wc, n, c, inner, ignore_index, loss, wsum);

  Tensor out;
  Tensor denom = wsum.reshape({});
  switch (reduction) {
    case Reduction::none: out = loss.reshape(target.shape()); break;
    case Reduction::sum: out = sum(loss); break;
    // Weighted mean: divided by the weights of the counted targets (NaN when every one is ignored).
    case Reduction::mean: out = div(sum(loss), denom); break;
  }
  const Shape ls = logp.shape();
  // The weight is a constant here (PyTorch gives it no gradient either).
  return record(op, out, {logp}, [=](const Tensor& g) {
    Tensor gl;  // gradient of each element's loss, [n, inner]
    if (reduction == Reduction::none) gl = g.reshape({n, inner});
    else if (reduction == Reduction::sum) gl = g.reshape({1, 1}).expand({n, inner});
    else gl = div(g, denom).reshape({1, 1}).expand({n, inner});
    Tensor gx = zeros({n, c, inner}, g.options());
    kernels::nll_backward().get(gx.device())(gl.contiguous(), tc, wc, n, c, inner, ignore_index, gx);
    return Grads{gx.reshape(ls)};
  });
}

Tensor reduce_loss(const Tensor& l, Reduction r) {
  switch (r) {
    case Reduction::none: return l;
    case Reduction::sum: return sum(l);
    case Reduction::mean: return mean(l);
  }
  throw Error(detail::concat("loss: unknown reduction ", static_cast<int>(r)));
}

}  // namespace

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const Tensor& weight, Reduction reduction,
                int64_t ignore_index) {
  return nll_impl("nll_loss", log_probs, target, weight, reduction, ignore_index);
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight, Reduction reduction,
                     int64_t ignore_index) {
  check_nll("cross_entropy", logits, target, weight);  // errors name the op the caller used
  try {
    return nll_impl("cross_entropy", log_softmax(logits, logits.dim() > 1 ? 1 : 0), target, weight, reduction,
                    ignore_index);
  } catch (const Error& e) {
    // Target values are only seen by the kernel, whose message names nll_loss.
    throw Error(std::string("cross_entropy: ") + e.what());
  }
}

Tensor mse_loss(const Tensor& a, const Tensor& b, Reduction reduction) {
  math::check_compatible("mse_loss", a, "input", b, "target");
  math::check_floating("mse_loss", a, "input");
  // PyTorch would broadcast with a warning that the result is likely wrong; refuse instead.
  SADANET_CHECK(a.shape() == b.shape(), "mse_loss: expected input and target of one shape, got ",
                shape_str(a.shape()), " and ", shape_str(b.shape()), " (reduction ", reduction_name(reduction), ")");
  return reduce_loss(square(sub(a, b)), reduction);
}

Tensor normalize(const Tensor& x, int64_t dim, double eps) {
  math::check_floating("normalize", x, "x");
  const int64_t d = math::wrap_dim("normalize", dim, x.dim());
  SADANET_CHECK(eps >= 0, "normalize: expected eps >= 0, got ", eps);
  // max(||x||, eps) computed as sqrt(max(||x||^2, eps^2)): the same value, but for a row of
  // zeros the clamp cuts the gradient before sqrt's infinite slope at 0, so the gradient is
  // g / eps there, finite, as PyTorch's.
  Tensor sq = sum(square(x), {d}, true);
  Tensor denom = sqrt(clamp(sq, eps * eps, std::nullopt));
  return div(x, denom);
}

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  math::check_floating("dropout", x, "x");
  SADANET_CHECK(p >= 0.0 && p <= 1.0, "dropout: expected a probability p in [0, 1], got ", p);
  if (!training || p == 0.0) return x;
  if (p == 1.0) return mul(x, 0.0);  // every element dropped (x * 0, as PyTorch: NaN stays NaN)
  // mask / (1 - p) is a constant for autograd: the gradient is g * mask / (1 - p).
  Tensor keep = bernoulli(x.shape(), 1.0 - p, x.options(), gen);
  return mul(x, mul(keep, 1.0 / (1.0 - p)));
}

}  // namespace sadanet
