#include "sadanet/nn/module.h"

#include <set>
#include <sstream>

namespace sadanet::nn {

std::string LoadReport::str() const {
  std::ostringstream os;
  auto list = [&](const char* what, const std::vector<std::string>& v) {
    if (v.empty()) return;
    os << what << " (" << v.size() << "):";
    for (const auto& s : v) os << "\n  " << s;
    os << "\n";
  };
  list("missing keys", missing);
  list("unexpected keys", unexpected);
  list("shape mismatches", mismatched);
  list("dropped", dropped);
  return os.str();
}

Tensor& Module::register_parameter(const std::string& name, Tensor t) {
  t.set_requires_grad(true);
  params_.emplace_back(name, t);
  return params_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor t) {
  buffers_.emplace_back(name, t);
  return buffers_.back().second;
}

void Module::collect(const std::string& prefix, bool params, bool buffers, NamedTensors& out) const {
  if (params)
    for (const auto& [n, t] : params_) out.emplace_back(prefix + n, t);
  if (buffers)
    for (const auto& [n, t] : buffers_) out.emplace_back(prefix + n, t);
  for (const auto& [n, c] : children_) c->collect(prefix + n + ".", params, buffers, out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", true, false, out);
  return out;
}
NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", false, true, out);
  return out;
}
NamedTensors Module::state_dict() const {
  NamedTensors out;
  collect("", true, true, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}
std::vector<Tensor> Module::trainable_parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters())
    if (t.requires_grad()) out.push_back(t);
  return out;
}
int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

LoadReport Module::load_state_dict(const NamedTensors& sd, bool strict) {
  LoadReport r;
  std::map<std::string, const Tensor*> given;
  for (const auto& [n, t] : sd) {
    SADANET_CHECK(!given.count(n), "load_state_dict: key '", n, "' appears twice");
    given[n] = &t;
  }
  NamedTensors mine = state_dict();
  std::set<std::string> used;
  std::vector<std::pair<Tensor, const Tensor*>> todo;
  for (auto& [n, t] : mine) {
    auto it = given.find(n);
    if (it == given.end()) {
      r.missing.push_back(n);
      continue;
    }
    used.insert(n);
    if (it->second->shape() != t.shape()) {
      r.mismatched.push_back(n + ": file " + shape_str(it->second->shape()) + " vs model " + shape_str(t.shape()));
      continue;
    }
    todo.emplace_back(t, it->second);
  }
  for (const auto& [n, t] : sd)
    if (!used.count(n)) r.unexpected.push_back(n);
  if (strict && (!r.ok() || !r.unexpected.empty()))
    throw Error("load_state_dict: the weights do not fit the model\n" + r.str());
  NoGradGuard ng;
  for (auto& [dst, src] : todo) dst.copy_(*src);
  return r;
}

void Module::train(bool on) {
  training_ = on;
  on_train(on);
  for (auto& [n, c] : children_) c->train(on);
}

void Module::set_batch_norm_mode(BatchNormMode m) {
  for (auto& [n, c] : children_) c->set_batch_norm_mode(m);
}

void Module::set_requires_grad(bool r) {
  for (auto& [n, t] : params_) t.set_requires_grad(r);
  for (auto& [n, c] : children_) c->set_requires_grad(r);
}

void Module::zero_grad() {
  for (auto& [n, t] : params_) t.zero_grad();
  for (auto& [n, c] : children_) c->zero_grad();
}

void Module::to(Device d) {
  // Replace the storage inside each existing tensor handle, so that members holding the
  // same handle (e.g. Conv2d::weight) and optimizers built earlier see the moved data.
  auto move = [&](Tensor& t) {
    if (!t.defined() || t.device() == d) return;
    Tensor moved = t.detach().to(d);
    t.impl()->storage = moved.storage();
    t.impl()->offset = moved.offset();
    t.impl()->strides = moved.strides();
    t.impl()->grad.reset();
  };
  for (auto& [n, t] : params_) move(t);
  for (auto& [n, t] : buffers_) move(t);
  for (auto& [n, c] : children_) c->to(d);
}

void Module::to(DType dt) {
  auto convert = [&](Tensor& t) {
    if (!t.defined() || !is_floating(t.dtype()) || t.dtype() == dt) return;
    Tensor c = t.detach().to(dt);
    t.impl()->storage = c.storage();
    t.impl()->offset = c.offset();
    t.impl()->strides = c.strides();
    t.impl()->dtype = dt;
    t.impl()->grad.reset();
  };
  for (auto& [n, t] : params_) convert(t);
  for (auto& [n, t] : buffers_) convert(t);
  for (auto& [n, c] : children_) c->to(dt);
}

std::shared_ptr<Module> Module::child(const std::string& name) const {
  for (const auto& [n, c] : children_)
    if (n == name) return c;
  throw Error("module: no child named '" + name + "'");
}

}  // namespace sadanet::nn
