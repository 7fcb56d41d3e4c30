// The gradient an optimizer step uses for one parameter, checked and in the kernels' layout.
#pragma once
#include "sadanet/tensor.h"

namespace sadanet::optim::impl {

// Undefined when p has no gradient (the step skips it); otherwise a contiguous tensor of p's
// shape, dtype and device.
inline Tensor step_grad(const Tensor& p, const char* opt) {
  Tensor g = p.grad();
  if (!g.defined()) return g;
  SADANET_CHECK(g.shape() == p.shape(), opt, ": gradient of shape ", shape_str(g.shape()),
                " for a parameter of shape ", shape_str(p.shape()));
  SADANET_CHECK(g.device() == p.device(), opt, ": gradient on ", g.device().str(),
                " for a parameter on ", p.device().str());
  if (g.dtype() != p.dtype()) g = g.to(p.dtype());
  return g.contiguous();
}

}  // namespace sadanet::optim::impl
