// Adam and AdamW (torch.optim.Adam / AdamW, single-tensor path, amsgrad off). The arithmetic is
// in the adam_step kernel of the parameter's device; this file owns state and hyper-parameters.
#include <cmath>

#include "kernels/kernels.h"
#include "optim/step_utils.h"
#include "sadanet/autograd.h"
#include "sadanet/optim.h"

namespace sadanet::optim {

void AdamBase::resolve(ParamGroup& g) const {
  if (std::isnan(g.lr)) g.lr = opts_.lr;
  if (std::isnan(g.weight_decay)) g.weight_decay = opts_.weight_decay;
  if (!g.beta1) g.beta1 = opts_.beta1;
  if (!g.beta2) g.beta2 = opts_.beta2;
  if (!g.eps) g.eps = opts_.eps;
  SADANET_CHECK(!g.momentum && !g.dampening && !g.nesterov, name(),
                ": momentum/dampening/nesterov are SGD settings, set on an ", name(), " group");
  SADANET_CHECK(g.lr >= 0.0, name(), ": expected lr >= 0, got ", g.lr);
  SADANET_CHECK(*g.eps >= 0.0, name(), ": expected eps >= 0, got ", *g.eps);
  SADANET_CHECK(*g.beta1 >= 0.0 && *g.beta1 < 1.0, name(), ": expected 0 <= beta1 < 1, got ", *g.beta1);
  SADANET_CHECK(*g.beta2 >= 0.0 && *g.beta2 < 1.0, name(), ": expected 0 <= beta2 < 1, got ", *g.beta2);
  SADANET_CHECK(g.weight_decay >= 0.0, name(), ": expected weight_decay >= 0, got ", g.weight_decay);
}

std::vector<std::pair<std::string, double>> AdamBase::hparams(const ParamGroup& g) const {
  return {{"lr", g.lr}, {"weight_decay", g.weight_decay}, {"beta1", *g.beta1},
          {"beta2", *g.beta2}, {"eps", *g.eps}};
}

void AdamBase::set_hparam(ParamGroup& g, const std::string& k, double v) const {
  if (k == "lr") g.lr = v;
  else if (k == "weight_decay") g.weight_decay = v;
  else if (k == "beta1") g.beta1 = v;
  else if (k == "beta2") g.beta2 = v;
  else if (k == "eps") g.eps = v;
  else throw Error(detail::concat(name(), ": unknown hyper-parameter '", k, "'"));
}

std::vector<std::string> AdamBase::buffer_names(const ParamGroup&) const {
  return {"exp_avg", "exp_avg_sq"};
}

void AdamBase::step() {
  NoGradGuard guard;
  for (auto& g : groups()) {
    for (auto& p : g.params) {
      Tensor grad = impl::step_grad(p, name());
      if (!grad.defined()) continue;  // no gradient this step: untouched, as PyTorch
      ParamState& st = state(p);
      Tensor& m = st.buffers["exp_avg"];
      Tensor& v = st.buffers["exp_avg_sq"];
      if (!m.defined()) m = zeros_like(p);
      if (!v.defined()) v = zeros_like(p);
      st.step += 1;
      const kernels::AdamArgs args{g.lr, *g.beta1, *g.beta2, *g.eps, g.weight_decay, decoupled_, st.step};
      kernels::adam_step().get(p.device())(p, grad, m, v, args);
    }
  }
}

Adam::Adam(std::vector<Tensor> params, const AdamOptions& o) : Adam(one_group(std::move(params)), o) {}
Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& o) : AdamBase(o, false) {
  init_groups(std::move(groups));
}

namespace {
AdamOptions as_adam(const AdamWOptions& o) { return {o.lr, o.beta1, o.beta2, o.eps, o.weight_decay}; }
}  // namespace

AdamW::AdamW(std::vector<Tensor> params, const AdamWOptions& o) : AdamW(one_group(std::move(params)), o) {}
AdamW::AdamW(std::vector<ParamGroup> groups, const AdamWOptions& o) : AdamBase(as_adam(o), true) {
  init_groups(std::move(groups));
}

}  // namespace sadanet::optim
