// Tensor handles, metadata, item/to_vector and the string form. Views live in views.cpp,
// copies and conversions in copy.cpp, factories in factory.cpp.
#include "sadanet/tensor.h"

#include <cmath>
#include <sstream>

#include "sadanet/autograd.h"

namespace sadanet {

std::string shape_str(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (int64_t i = static_cast<int64_t>(s.size()) - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= std::max<int64_t>(s[i], 1);
  }
  return st;
}

TensorImpl* Tensor::impl() const {
  SADANET_CHECK(impl_, "tensor: operation on an undefined tensor");
  return impl_.get();
}

static int64_t wrap_dim(int64_t d, int64_t nd, const char* op) {
  SADANET_CHECK(d >= -nd && d < nd, op, ": dimension ", d, " out of range for a tensor of rank ", nd);
  return d < 0 ? d + nd : d;
}

int64_t Tensor::size(int64_t d) const { return shape()[wrap_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return strides()[wrap_dim(d, dim(), "stride")]; }

bool Tensor::is_contiguous() const {
  if (numel() == 0) return true;  // no element to be out of place (as PyTorch)
  int64_t expected = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (shape()[i] == 1) continue;
    if (strides()[i] != expected) return false;
    expected *= shape()[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  auto* base = static_cast<char*>(impl()->storage->data());
  return base ? base + offset() * static_cast<int64_t>(dtype_size(dtype())) : nullptr;
}

void Tensor::check_dtype(DType want, const char* op) const {
  SADANET_CHECK(dtype() == want, op, ": expected dtype ", dtype_name(want), ", got ", dtype_name(dtype()));
}

double Tensor::item() const {
  SADANET_CHECK(numel() == 1, "item: expected a tensor with one element, got shape ", shape_str(shape()));
  return to_vector<double>()[0];
}

template <class T> std::vector<T> Tensor::to_vector() const {
  Tensor c = detach().to(kCPU).to(dtype_of<T>::value).contiguous();
  std::vector<T> out(static_cast<size_t>(c.numel()));
  if (!out.empty()) std::memcpy(out.data(), c.raw_data(), out.size() * sizeof(T));
  return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
template std::vector<int32_t> Tensor::to_vector<int32_t>() const;
template std::vector<uint8_t> Tensor::to_vector<uint8_t>() const;

bool Tensor::requires_grad() const { return impl()->requires_grad || impl()->grad_fn != nullptr; }

Tensor& Tensor::set_requires_grad(bool r) {
  SADANET_CHECK(is_leaf(), "set_requires_grad: only leaf tensors can be flagged; this one is the output of '",
                impl()->grad_fn->name, "' (use detach() first)");
  SADANET_CHECK(!r || is_floating(dtype()), "set_requires_grad: expected a floating dtype, got ",
                dtype_name(dtype()));
  impl()->requires_grad = r;
  return *this;
}

void Tensor::retain_grad() {
  SADANET_CHECK(requires_grad(), "retain_grad: the tensor does not require grad");
  if (is_leaf() || impl()->retains_grad) return;
  impl()->retains_grad = true;
  impl()->grad_fn->retained.push_back(impl_);
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  autograd::backward({*this}, {gradient}, retain_graph);
}

Tensor Tensor::detach() const {
  auto d = std::make_shared<TensorImpl>();
  d->storage = impl()->storage;
  d->shape = shape();
  d->strides = strides();
  d->offset = offset();
  d->dtype = dtype();
  return Tensor(d);
}

std::string Tensor::str(int64_t max_elems) const {
  if (!defined()) return "Tensor(undefined)";
  std::ostringstream os;
  os << "Tensor(shape=" << shape_str(shape()) << ", dtype=" << dtype_name(dtype()) << ", device=" << device().str();
  if (requires_grad()) os << ", requires_grad";
  os << ", data=[";
  auto v = to_vector<double>();
  for (int64_t i = 0; i < static_cast<int64_t>(v.size()) && i < max_elems; ++i) os << (i ? ", " : "") << v[i];
  if (static_cast<int64_t>(v.size()) > max_elems) os << ", ...";
  os << "])";
  return os.str();
}

}  // namespace sadanet
