// Joining and indexing: cat, stack, index_select, gather (torch semantics), with gradients.
#include "ops/math_internal.h"

namespace sadanet {
namespace {
using Grads = std::vector<Tensor>;
}  // namespace

Tensor cat(const std::vector<Tensor>& xs, int64_t dim) {
  SADANET_CHECK(!xs.empty(), "cat: expected at least one tensor");
  const Tensor& first = xs[0];
  math::check_defined("cat", first, "tensor 0");
  SADANET_CHECK(first.dim() > 0, "cat: zero-dimensional tensors cannot be concatenated (use stack)");
  const int64_t d = math::wrap_dim("cat", dim, first.dim());
  Shape shape = first.shape();
  shape[d] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    const std::string name = "tensor " + std::to_string(i);
    math::check_compatible("cat", first, "tensor 0", x, name.c_str());
    SADANET_CHECK(x.dim() == first.dim(), "cat: expected every tensor of rank ", first.dim(), ", got ", name,
                  " of shape ", shape_str(x.shape()));
    for (int64_t k = 0; k < x.dim(); ++k)
      SADANET_CHECK(k == d || x.size(k) == first.size(k), "cat: sizes must match except in dimension ", d,
                    ": tensor 0 has shape ", shape_str(first.shape()), ", ", name, " has ", shape_str(x.shape()));
    shape[d] += x.size(d);
  }
  Tensor out = empty(shape, first.options());
  std::vector<int64_t> starts;
  {
    NoGradGuard no_grad;  // filling a fresh tensor: no graph
    int64_t off = 0;
    for (const Tensor& x : xs) {
      starts.push_back(off);
      if (x.numel() > 0) out.slice(d, off, off + x.size(d)).copy_(x.detach());
      off += x.size(d);
    }
    starts.push_back(off);
  }
  return record("cat", out, xs, [d, starts](const Tensor& g) {
    Grads gs;
    for (size_t i = 0; i + 1 < starts.size(); ++i) gs.push_back(g.slice(d, starts[i], starts[i + 1]).contiguous());
    return gs;
  });
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  SADANET_CHECK(!xs.empty(), "stack: expected at least one tensor");
  math::check_defined("stack", xs[0], "tensor 0");
  // Inserting a dim: rank + 1 positions.
  const int64_t d = math::wrap_dim("stack", dim, xs[0].dim() + 1);
  std::vector<Tensor> parts;
  for (size_t i = 0; i < xs.size(); ++i) {
    const std::string name = "tensor " + std::to_string(i);
    math::check_compatible("stack", xs[0], "tensor 0", xs[i], name.c_str());
    SADANET_CHECK(xs[i].shape() == xs[0].shape(), "stack: expected every tensor of shape ", shape_str(xs[0].shape()),
                  ", got ", name, " of shape ", shape_str(xs[i].shape()));
    parts.push_back(xs[i].unsqueeze(d));
  }
  return cat(parts, d);
}

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  math::check_defined("index_select", x, "x");
  math::check_defined("index_select", index, "index");
  SADANET_CHECK(index.dtype() == DType::i64, "index_select: expected an i64 index, got ", dtype_name(index.dtype()));
  SADANET_CHECK(index.dim() <= 1, "index_select: expected a 1-D index, got shape ", shape_str(index.shape()));
  SADANET_CHECK(index.device() == x.device(), "index_select: expected x and index on one device, got ",
                x.device().str(), " and ", index.device().str());
  SADANET_CHECK(x.dim() >= 1, "index_select: expected x of rank >= 1, got a 0-d tensor");
  const int64_t d = math::wrap_dim("index_select", dim, x.dim());
  const Shape& s = x.shape();
  const int64_t outer = math::prod(s, 0, d), size = s[d], inner = math::prod(s, d + 1, s.size());
  Shape os = s;
  os[d] = index.numel();
  Tensor out = empty(os, x.options());
  Tensor idx = index.contiguous();
  try {
    kernels::index_select().get(x.device())(x.detach().contiguous(), outer, size, inner, idx, out);
  } catch (const Error& e) {  // the kernel names the bad index; add which dim it indexed
    throw Error(detail::concat(e.what(), " (dimension ", d, " of x with shape ", shape_str(s), ")"));
  }
  return record("index_select", out, {x}, [s, outer, size, inner, idx](const Tensor& g) {
    Tensor gx = zeros(s, g.options());
    kernels::index_add().get(g.device())(g.contiguous(), outer, size, inner, idx, gx);
    return Grads{gx};
  });
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  math::check_defined("gather", x, "x");
  math::check_defined("gather", index, "index");
  SADANET_CHECK(index.dtype() == DType::i64, "gather: expected an i64 index, got ", dtype_name(index.dtype()));
  SADANET_CHECK(index.device() == x.device(), "gather: expected x and index on one device, got ", x.device().str(),
                " and ", index.device().str());
  SADANET_CHECK(index.dim() == x.dim(), "gather: expected index of the same rank as x (", x.dim(),
                "), got index shape ", shape_str(index.shape()), " for x shape ", shape_str(x.shape()));
  const int64_t d = math::wrap_dim("gather", dim, x.dim());
  const Shape& xs = x.shape();
  const Shape& is = index.shape();
  // torch.gather allows index to be smaller than x outside `dim`: only x's leading corner of
  // that size is ever read, so gather from that corner, which lines up with the index.
  Tensor corner = x.detach();
  bool sliced = false;
  for (int64_t k = 0; k < x.dim(); ++k) {
    if (k == d) continue;
    SADANET_CHECK(is[k] <= xs[k], "gather: index size ", is[k], " exceeds x size ", xs[k], " in dimension ", k,
                  " (index shape ", shape_str(is), ", x shape ", shape_str(xs), ")");
    if (is[k] < xs[k]) { corner = corner.slice(k, 0, is[k]); sliced = true; }
  }
  const int64_t outer = math::prod(is, 0, d), len = x.dim() ? xs[d] : 1, len_i = x.dim() ? is[d] : 1;
  const int64_t inner = math::prod(is, d + 1, is.size());
  Tensor out = empty(is, x.options());
  Tensor idx = index.contiguous();
  try {
    kernels::gather().get(x.device())(corner.contiguous(), idx, outer, len, len_i, inner, out);
  } catch (const Error& e) {
    throw Error(detail::concat(e.what(), " (dimension ", d, " of x with shape ", shape_str(xs), ")"));
  }
  const Shape cs = corner.shape();
  return record("gather", out, {x}, [=](const Tensor& g) {
    Tensor gc = math::scatter_add_raw(g, idx, outer, len, len_i, inner).reshape(cs);
    if (!sliced) return Grads{gc};
    Tensor gx = zeros(xs, g.options());
    Tensor view = gx;
    for (int64_t k = 0; k < static_cast<int64_t>(xs.size()); ++k)
      if (k != d) view = view.slice(k, 0, cs[k]);
    view.copy_(gc);
    return Grads{gx};
  });
}

}  // namespace sadanet
