// SGD with momentum, dampening, Nesterov and L2 weight decay (torch.optim.SGD, single-tensor).
// The arithmetic is in the sgd_step kernel of the parameter's device.
#include <cmath>

#include "kernels/kernels.h"
#include "optim/step_utils.h"
#include "sadanet/autograd.h"
#include "sadanet/optim.h"

namespace sadanet::optim {

SGD::SGD(std::vector<Tensor> params, const SgdOptions& o) : SGD(one_group(std::move(params)), o) {}
SGD::SGD(std::vector<ParamGroup> groups, const SgdOptions& o) : opts_(o) {
  init_groups(std::move(groups));
}

void SGD::resolve(ParamGroup& g) const {
  if (std::isnan(g.lr)) g.lr = opts_.lr;
  if (std::isnan(g.weight_decay)) g.weight_decay = opts_.weight_decay;
  if (!g.momentum) g.momentum = opts_.momentum;
  if (!g.dampening) g.dampening = opts_.dampening;
  if (!g.nesterov) g.nesterov = opts_.nesterov;
  SADANET_CHECK(!g.beta1 && !g.beta2 && !g.eps, "SGD: beta1/beta2/eps are Adam settings, set on an SGD group");
  SADANET_CHECK(g.lr >= 0.0, "SGD: expected lr >= 0, got ", g.lr);
  SADANET_CHECK(*g.momentum >= 0.0, "SGD: expected momentum >= 0, got ", *g.momentum);
  SADANET_CHECK(g.weight_decay >= 0.0, "SGD: expected weight_decay >= 0, got ", g.weight_decay);
  SADANET_CHECK(!*g.nesterov || (*g.momentum > 0.0 && *g.dampening == 0.0),
                "SGD: nesterov needs momentum > 0 and dampening 0, got momentum ", *g.momentum,
                " and dampening ", *g.dampening);
}

std::vector<std::pair<std::string, double>> SGD::hparams(const ParamGroup& g) const {
  return {{"lr", g.lr}, {"weight_decay", g.weight_decay}, {"momentum", *g.momentum},
          {"dampening", *g.dampening}, {"nesterov", *g.nesterov ? 1.0 : 0.0}};
}

void SGD::set_hparam(ParamGroup& g, const std::string& k, double v) const {
  if (k == "lr") g.lr = v;
  else if (k == "weight_decay") g.weight_decay = v;
  else if (k == "momentum") g.momentum = v;
  else if (k == "dampening") g.dampening = v;
  else if (k == "nesterov") g.nesterov = v != 0.0;
  else throw Error(detail::concat("SGD: unknown hyper-parameter '", k, "'"));
}

std::vector<std::string> SGD::buffer_names(const ParamGroup&) const { return {"momentum_buffer"}; }

void SGD::step() {
  NoGradGuard guard;
  for (auto& g : groups()) {
    for (auto& p : g.params) {
      Tensor grad = impl::step_grad(p, "SGD");
      if (!grad.defined()) continue;  // no gradient this step: untouched, as PyTorch
      ParamState& st = state(p);
      st.step += 1;
      Tensor none;
      // Without momentum PyTorch keeps no buffer; with it the first step copies the gradient in.
      bool first = false;
      Tensor* buf = &none;
      if (*g.momentum != 0.0) {
        Tensor& b = st.buffers["momentum_buffer"];
        if (!b.defined()) {
          b = empty_like(p);
          first = true;
        }
        buf = &b;
      }
      const kernels::SgdArgs args{g.lr, *g.momentum, *g.dampening, g.weight_decay, *g.nesterov, first};
      kernels::sgd_step().get(p.device())(p, grad, *buf, args);
    }
  }
}

}  // namespace sadanet::optim
