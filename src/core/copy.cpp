// Copies, conversions and in-place fills, all through the copy/fill/transfer kernel slots.
#include "kernels/kernels.h"
#include "sadanet/autograd.h"
#include "sadanet/ops.h"

namespace sadanet {
namespace {

void check_inplace(const Tensor& t, const char* op) {
  SADANET_CHECK(!(grad_enabled() && t.requires_grad()), op,
                ": in-place change of a tensor that requires grad while grad mode is on "
                "(wrap it in NoGradGuard, or use an out-of-place op)");
}

// Contiguous copy of `src` onto `dst_dev` (same dtype).
Tensor transfer(const Tensor& src, Device dst_dev) {
  Tensor s = src.contiguous();
  Tensor out = empty(s.shape(), TensorOptions(s.dtype(), dst_dev));
  if (s.nbytes() == 0) return out;
  Device other = s.device().is_cpu() ? dst_dev : s.device();
  kernels::transfer().get(other)(s.raw_data(), s.device(), out.raw_data(), dst_dev, s.nbytes());
  return out;
}

}  // namespace

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), options());
  kernels::copy().get(device())(*this, out);
  return record("clone", out, {*this}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor Tensor::to(Device d) const {
  if (d == device()) return *this;
  Tensor out = transfer(*this, d);
  Device from = device();
  return record("to_device", out, {*this}, [from](const Tensor& g) { return std::vector<Tensor>{g.to(from)}; });
}

Tensor Tensor::to(DType t) const {
  if (t == dtype()) return *this;
  Tensor out = empty(shape(), TensorOptions(t, device()));
  kernels::copy().get(device())(*this, out);
  if (!is_floating(t)) return out;  // integer results carry no gradient
  DType from = dtype();
  return record("to_dtype", out, {*this}, [from](const Tensor& g) { return std::vector<Tensor>{g.to(from)}; });
}

Tensor& Tensor::fill_(double v) {
  check_inplace(*this, "fill_");
  kernels::fill().get(device())(*this, v);
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace(*this, "copy_");
  SADANET_CHECK(src.defined(), "copy_: source tensor is undefined");
  Tensor s = src.detach().expand(shape());
  if (s.device() != device()) s = transfer(s, device());
  if (s.storage() == storage() && s.offset() == offset() && s.strides() == strides() && s.dtype() == dtype())
    return *this;  // copying a tensor onto itself
  kernels::copy().get(device())(s, *this);
  return *this;
}

}  // namespace sadanet
