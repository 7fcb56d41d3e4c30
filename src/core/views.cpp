// Views: new metadata over the same storage. Each is differentiable; its backward maps the
// gradient back to the base's shape.
#include <algorithm>
#include <numeric>

#include "sadanet/autograd.h"
#include "sadanet/ops.h"
#include "sadanet/tensor.h"

namespace sadanet {
namespace {

int64_t wrap(int64_t d, int64_t nd, const char* op) {
  SADANET_CHECK(d >= -nd && d < nd, op, ": dimension ", d, " out of range for a tensor of rank ", nd);
  return d < 0 ? d + nd : d;
}

Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset) {
  auto v = std::make_shared<TensorImpl>();
  v->storage = base.storage();
  v->shape = std::move(shape);
  v->strides = std::move(strides);
  v->offset = offset;
  v->dtype = base.dtype();
  return Tensor(v);
}

// Strides that let `shape` view memory laid out as (old_shape, old_strides), or empty when the
// layout does not allow it (the same rule as PyTorch's computeStride).
std::optional<Shape> view_strides(const Shape& old_shape, const Shape& old_strides, const Shape& shape) {
  if (shape_numel(old_shape) == 0 || old_shape.empty()) return contiguous_strides(shape);
  Shape st(shape.size());
  int64_t view_d = static_cast<int64_t>(shape.size()) - 1;
  int64_t chunk_base_stride = old_strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(old_shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= old_shape[d];
    if (d == 0 || (old_shape[d - 1] != 1 && old_strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        st[view_d] = view_numel * chunk_base_stride;
        view_numel *= shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = old_strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return st;
}

Shape infer_shape(const Shape& in, int64_t numel, const char* op) {
  Shape s = in;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      SADANET_CHECK(infer < 0, op, ": only one dimension can be -1, got ", shape_str(in));
      infer = static_cast<int64_t>(i);
    } else {
      SADANET_CHECK(s[i] >= 0, op, ": invalid size ", s[i], " in ", shape_str(in));
      known *= s[i];
    }
  }
  if (infer >= 0) {
    SADANET_CHECK(known != 0 && numel % known == 0, op, ": shape ", shape_str(in), " is invalid for ", numel,
                  " elements");
    s[infer] = numel / known;
  }
  SADANET_CHECK(shape_numel(s) == numel, op, ": shape ", shape_str(in), " is invalid for ", numel, " elements");
  return s;
}

}  // namespace

Tensor Tensor::view(const Shape& shape_in) const {
  Shape s = infer_shape(shape_in, numel(), "view");
  auto st = view_strides(shape(), strides(), s);
  SADANET_CHECK(st.has_value(), "view: shape ", shape_str(s), " cannot view a tensor of shape ",
                shape_str(shape()), " with strides ", shape_str(strides()), " without a copy (use reshape)");
  Tensor out = make_view(*this, s, *st, offset());
  Shape old = shape();
  return record("view", out, {*this}, [old](const Tensor& g) { return std::vector<Tensor>{g.reshape(old)}; });
}

Tensor Tensor::reshape(const Shape& shape_in) const {
  Shape s = infer_shape(shape_in, numel(), "reshape");
  if (view_strides(shape(), strides(), s)) return view(s);
  return contiguous().view(s);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  const int64_t nd = dim();
  SADANET_CHECK(static_cast<int64_t>(dims.size()) == nd, "permute: expected ", nd, " dimensions, got ", dims.size());
  std::vector<int64_t> p(nd), inv(nd, -1);
  Shape s(nd), st(nd);
  for (int64_t i = 0; i < nd; ++i) {
    p[i] = wrap(dims[i], nd, "permute");
    SADANET_CHECK(inv[p[i]] < 0, "permute: dimension ", p[i], " repeated in the permutation");
    inv[p[i]] = i;
    s[i] = shape()[p[i]];
    st[i] = strides()[p[i]];
  }
  Tensor out = make_view(*this, s, st, offset());
  return record("permute", out, {*this}, [inv](const Tensor& g) { return std::vector<Tensor>{g.permute(inv)}; });
}

Tensor Tensor::transpose(int64_t a, int64_t b) const {
  std::vector<int64_t> p(dim());
  std::iota(p.begin(), p.end(), 0);
  std::swap(p[wrap(a, dim(), "transpose")], p[wrap(b, dim(), "transpose")]);
  return permute(p);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  d = wrap(d, dim(), "slice");
  SADANET_CHECK(step > 0, "slice: step must be positive, got ", step);
  const int64_t n = shape()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape s = shape(), st = strides();
  s[d] = (end - start + step - 1) / step;
  st[d] *= step;
  Tensor out = make_view(*this, s, st, offset() + start * strides()[d]);
  Shape old = shape();
  return record("slice", out, {*this}, [old, d, start, end, step](const Tensor& g) {
    Tensor gx = zeros(old, g.options());
    gx.slice(d, start, end, step).copy_(g);
    return std::vector<Tensor>{gx};
  });
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  d = wrap(d, dim(), "select");
  const int64_t n = shape()[d];
  SADANET_CHECK(index >= -n && index < n, "select: index ", index, " out of range for dimension ", d, " of size ", n);
  if (index < 0) index += n;
  return slice(d, index, index + 1).squeeze(d);
}

Tensor Tensor::expand(const Shape& target) const {
  const int64_t nd = static_cast<int64_t>(target.size()), old = dim();
  SADANET_CHECK(nd >= old, "expand: cannot expand shape ", shape_str(shape()), " to fewer dimensions ",
                shape_str(target));
  Shape s(nd), st(nd);
  for (int64_t i = nd - 1; i >= 0; --i) {
    int64_t j = i - (nd - old);
    int64_t cur = j >= 0 ? shape()[j] : 1;
    int64_t want = target[i] == -1 ? cur : target[i];
    SADANET_CHECK(cur == want || cur == 1, "expand: shape ", shape_str(shape()), " cannot be expanded to ",
                  shape_str(target), " (dimension ", i, ": ", cur, " vs ", want, ")");
    s[i] = want;
    st[i] = (j >= 0 && cur == want) ? strides()[j] : 0;
  }
  if (s == shape()) return *this;
  Tensor out = make_view(*this, s, st, offset());
  Shape orig = shape();
  return record("expand", out, {*this}, [orig](const Tensor& g) { return std::vector<Tensor>{sum_to(g, orig)}; });
}

Tensor Tensor::squeeze(int64_t d) const {
  d = wrap(d, dim(), "squeeze");
  if (shape()[d] != 1) return *this;
  Shape s = shape();
  s.erase(s.begin() + d);
  return reshape(s);
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = wrap(d, dim() + 1, "unsqueeze");
  Shape s = shape();
  s.insert(s.begin() + d, 1);
  return reshape(s);
}

Tensor Tensor::flatten(int64_t start, int64_t end) const {
  if (dim() == 0) return reshape({1});
  start = wrap(start, dim(), "flatten");
  end = wrap(end, dim(), "flatten");
  SADANET_CHECK(start <= end, "flatten: start dimension ", start, " after end dimension ", end);
  Shape s(shape().begin(), shape().begin() + start);
  int64_t m = 1;
  for (int64_t i = start; i <= end; ++i) m *= shape()[i];
  s.push_back(m);
  s.insert(s.end(), shape().begin() + end + 1, shape().end());
  return reshape(s);
}

}  // namespace sadanet
