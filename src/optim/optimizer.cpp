// Parameter groups, zero_grad and the flat state dict shared by every optimizer.
#include <cmath>
#include <set>
#include <unordered_set>

#include "sadanet/autograd.h"
#include "sadanet/optim.h"

namespace sadanet::optim {
namespace {

Tensor i64_scalar(int64_t v) { return from_vector<int64_t>({v}, {}); }
Tensor f64_scalar(double v) { return from_vector<double>({v}, {}); }

std::string group_key(size_t g, const std::string& field) {
  return detail::concat("param_groups.", g, ".", field);
}
std::string state_key(size_t g, size_t i, const std::string& field) {
  return detail::concat("state.", g, ".", i, ".", field);
}

const Tensor& need(const StateDict& sd, const std::string& key, const char* opt) {
  auto it = sd.find(key);
  SADANET_CHECK(it != sd.end(), opt, ".load_state_dict: missing key '", key, "'");
  SADANET_CHECK(it->second.defined() && it->second.numel() >= 1, opt,
                ".load_state_dict: key '", key, "' holds an empty tensor");
  return it->second;
}

}  // namespace

void Optimizer::init_groups(std::vector<ParamGroup> groups) {
  SADANET_CHECK(!groups.empty(), name(), ": expected at least one parameter group, got none");
  for (auto& g : groups) add_param_group(std::move(g));
}

std::vector<ParamGroup> Optimizer::one_group(std::vector<Tensor> params) {
  ParamGroup g;
  g.params = std::move(params);
  return {std::move(g)};
}

void Optimizer::add_param_group(ParamGroup g) {
  SADANET_CHECK(!g.params.empty(), name(), ": parameter group ", groups_.size(),
                " has no parameters");
  std::unordered_set<const TensorImpl*> seen;
  for (const auto& old : groups_)
    for (const auto& p : old.params) seen.insert(p.impl());
  for (size_t i = 0; i < g.params.size(); ++i) {
    const Tensor& p = g.params[i];
    SADANET_CHECK(p.defined(), name(), ": parameter ", i, " of group ", groups_.size(),
                  " is an undefined tensor");
    SADANET_CHECK(p.is_leaf(), name(), ": can't optimize a non-leaf tensor (parameter ", i,
                  " of group ", groups_.size(), ")");
    SADANET_CHECK(is_floating(p.dtype()), name(), ": parameters must be floating, parameter ", i,
                  " of group ", groups_.size(), " is ", dtype_name(p.dtype()));
    SADANET_CHECK(p.is_contiguous(), name(), ": parameters are updated in place and must be "
                  "contiguous (parameter ", i, " of group ", groups_.size(), ")");
    SADANET_CHECK(seen.insert(p.impl()).second, name(), ": a parameter appears more than once "
                  "(parameter ", i, " of group ", groups_.size(), ")");
  }
  resolve(g);
  groups_.push_back(std::move(g));
}

void Optimizer::zero_grad() {
  for (auto& g : groups_)
    for (auto& p : g.params) p.zero_grad();
}

StateDict Optimizer::state_dict() const {
  NoGradGuard guard;
  StateDict sd;
  sd[detail::concat("type.", name())] = i64_scalar(1);
  for (size_t g = 0; g < groups_.size(); ++g) {
    const ParamGroup& grp = groups_[g];
    sd[group_key(g, "num_params")] = i64_scalar(static_cast<int64_t>(grp.params.size()));
    for (const auto& [k, v] : hparams(grp)) sd[group_key(g, k)] = f64_scalar(v);
    for (size_t i = 0; i < grp.params.size(); ++i) {
      auto it = state_.find(grp.params[i].impl());
      if (it == state_.end()) continue;
      sd[state_key(g, i, "step")] = i64_scalar(it->second.step);
      for (const auto& [k, buf] : it->second.buffers) sd[state_key(g, i, k)] = buf.clone();
    }
  }
  return sd;
}

void Optimizer::load_state_dict(const StateDict& sd) {
  NoGradGuard guard;
  const char* opt = name();
  // Which optimizer wrote it: exactly one "type.*" key, ours.
  for (const auto& [k, v] : sd)
    if (k.rfind("type.", 0) == 0)
      SADANET_CHECK(k == detail::concat("type.", opt), opt, ".load_state_dict: the state dict was "
                    "saved by ", k.substr(5), ", not ", opt);
  need(sd, detail::concat("type.", opt), opt);

  size_t saved_groups = 0;
  while (sd.count(group_key(saved_groups, "num_params"))) ++saved_groups;
  SADANET_CHECK(saved_groups == groups_.size(), opt, ".load_state_dict: expected ", groups_.size(),
                " parameter groups, the state dict has ", saved_groups);

  // Check everything before changing anything, so a failed load leaves the optimizer intact.
  std::set<std::string> used{detail::concat("type.", opt)};
  std::vector<std::vector<std::pair<std::string, double>>> new_hparams(groups_.size());
  std::unordered_map<const TensorImpl*, ParamState> new_state;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const ParamGroup& grp = groups_[g];
    const std::string np_key = group_key(g, "num_params");
    const int64_t n = static_cast<int64_t>(need(sd, np_key, opt).item());
    used.insert(np_key);
    SADANET_CHECK(n == static_cast<int64_t>(grp.params.size()), opt, ".load_state_dict: group ", g,
                  " has ", grp.params.size(), " parameters, the state dict has ", n);
    for (const auto& [k, unused] : hparams(grp)) {
      const std::string key = group_key(g, k);
      new_hparams[g].emplace_back(k, need(sd, key, opt).item());
      used.insert(key);
    }
    const auto names = buffer_names(grp);
    for (size_t i = 0; i < grp.params.size(); ++i) {
      const Tensor& p = grp.params[i];
      const std::string step_key = state_key(g, i, "step");
      if (!sd.count(step_key)) continue;  // never stepped
      used.insert(step_key);
      ParamState st;
      st.step = static_cast<int64_t>(need(sd, step_key, opt).item());
      SADANET_CHECK(st.step >= 0, opt, ".load_state_dict: '", step_key, "' is negative");
      for (const auto& b : names) {
        const std::string key = state_key(g, i, b);
        auto it = sd.find(key);
        if (it == sd.end()) continue;  // e.g. SGD without momentum keeps no buffer
        used.insert(key);
        const Tensor& src = it->second;
        SADANET_CHECK(src.defined() && src.shape() == p.shape(), opt, ".load_state_dict: '", key,
                      "' has shape ", src.defined() ? shape_str(src.shape()) : "undefined",
                      ", the parameter has shape ", shape_str(p.shape()));
        Tensor buf = empty_like(p);  // the parameter's dtype and device
        buf.copy_(src);
        st.buffers[b] = buf;
      }
      new_state[p.impl()] = std::move(st);
    }
  }
  for (const auto& [k, v] : sd)
    SADANET_CHECK(used.count(k), opt, ".load_state_dict: unexpected key '", k,
                  "' (another parameter layout or optimizer configuration?)");

  for (size_t g = 0; g < groups_.size(); ++g)
    for (const auto& [k, v] : new_hparams[g]) set_hparam(groups_[g], k, v);
  state_ = std::move(new_state);
}

}  // namespace sadanet::optim
