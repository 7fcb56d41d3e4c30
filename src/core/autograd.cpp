// The reverse-mode engine: record() builds the graph as ops run; backward() walks it once in
// dependency order, summing the gradients that reach each node before running its lambda.
#include "sadanet/autograd.h"

#include <algorithm>
#include <unordered_map>
#include <vector>

#include "sadanet/ops.h"

namespace sadanet {
namespace {
thread_local bool g_grad_enabled = true;

// Gradients are added out of place, so a tensor returned by one lambda for several inputs is
// never modified behind another's back.
void accumulate(std::shared_ptr<TensorImpl>& slot, const Tensor& g) {
  if (!slot) {
    slot = g.clone().impl_ptr();  // own copy: the user may modify .grad() in place
  } else {
    slot = add(Tensor(slot), g).impl_ptr();
  }
}
}  // namespace

bool grad_enabled() { return g_grad_enabled; }
void set_grad_enabled(bool on) { g_grad_enabled = on; }

bool any_requires_grad(std::initializer_list<Tensor> inputs) {
  if (!g_grad_enabled) return false;
  for (const auto& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}
bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!g_grad_enabled) return false;
  for (const auto& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Tensor record(const char* name, Tensor out, const std::vector<Tensor>& inputs, BackwardFn fn) {
  if (!any_requires_grad(inputs)) return out;
  SADANET_CHECK(out.grad_fn() == nullptr, "autograd: op '", name, "' returned a tensor that already has a graph node");
  SADANET_CHECK(is_floating(out.dtype()), "autograd: op '", name, "' recorded a non-floating output (",
                dtype_name(out.dtype()), ")");
  auto node = std::make_shared<Node>();
  node->name = name;
  node->backward = std::move(fn);
  node->inputs.reserve(inputs.size());
  for (const auto& t : inputs) {
    Edge e;
    if (t.defined() && t.requires_grad()) {
      if (t.grad_fn()) e.node = t.grad_fn();
      else e.leaf = t.impl_ptr();
      e.shape = t.shape();
      e.dtype = t.dtype();
    }
    node->inputs.push_back(std::move(e));
  }
  out.impl()->grad_fn = std::move(node);
  return out;
}

namespace autograd {

void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph) {
  SADANET_CHECK(roots.size() == grads.size(), "backward: ", roots.size(), " roots but ", grads.size(), " gradients");
  NoGradGuard no_grad;  // gradients are plain values: no graph of the backward pass is built

  std::unordered_map<Node*, Tensor> pending;  // summed gradient of each node's output
  std::unordered_map<Node*, int> deps;        // consumers not yet run
  std::vector<std::shared_ptr<Node>> order;   // every reachable node (keeps them alive)

  std::vector<std::pair<std::shared_ptr<Node>, Tensor>> starts;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    SADANET_CHECK(r.defined() && r.requires_grad(),
                  "backward: the tensor does not require grad (no input of the computation requires grad)");
    Tensor g = grads[i];
    if (!g.defined()) {
      SADANET_CHECK(r.numel() == 1, "backward: without an explicit gradient the tensor must have one element, got shape ",
                    shape_str(r.shape()));
      g = ones(r.shape(), r.options());
    }
    SADANET_CHECK(g.shape() == r.shape(), "backward: gradient of shape ", shape_str(g.shape()),
                  " for a tensor of shape ", shape_str(r.shape()));
    if (r.is_leaf()) accumulate(r.impl()->grad, g.to(r.dtype()));
    else starts.emplace_back(r.grad_fn(), g);
  }

  // Discover the graph and count, for each node, how many edges point at it.
  std::vector<Node*> stack;
  std::unordered_map<Node*, bool> seen;
  for (auto& [n, g] : starts) {
    if (!seen[n.get()]) { seen[n.get()] = true; stack.push_back(n.get()); order.push_back(n); }
  }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (auto& e : n->inputs) {
      if (!e.node) continue;
      ++deps[e.node.get()];
      if (!seen[e.node.get()]) {
        seen[e.node.get()] = true;
        stack.push_back(e.node.get());
        order.push_back(e.node);
      }
    }
  }

  std::vector<Node*> ready;
  for (auto& [n, g] : starts) {
    auto& p = pending[n.get()];
    p = p.defined() ? add(p, g) : g;
  }
  for (auto& [n, g] : starts)
    if (deps[n.get()] == 0 && std::find(ready.begin(), ready.end(), n.get()) == ready.end()) ready.push_back(n.get());

  while (!ready.empty()) {
    Node* n = ready.back();
    ready.pop_back();
    Tensor g = pending[n];
    pending.erase(n);

    std::vector<Tensor> gin(n->inputs.size());
    if (g.defined()) {
      for (auto& w : n->retained)
        if (auto impl = w.lock()) accumulate(impl->grad, g);
      SADANET_CHECK(n->backward, "backward: the graph through '", n->name,
                    "' was already freed by an earlier backward(); pass retain_graph=true to the first call");
      gin = n->backward(g);
      SADANET_CHECK(gin.size() == n->inputs.size(), "autograd: '", n->name, "' returned ", gin.size(),
                    " gradients for ", n->inputs.size(), " inputs");
    }
    if (!retain_graph) n->backward = nullptr;

    for (size_t i = 0; i < n->inputs.size(); ++i) {
      Edge& e = n->inputs[i];
      if (!e.active()) continue;
      Tensor gi = gin[i];
      if (gi.defined()) {
        SADANET_CHECK(gi.shape() == e.shape, "autograd: '", n->name, "' returned a gradient of shape ",
                      shape_str(gi.shape()), " for input ", i, " of shape ", shape_str(e.shape));
        if (gi.dtype() != e.dtype) gi = gi.to(e.dtype);
      }
      if (e.leaf) {
        if (gi.defined()) accumulate(e.leaf->grad, gi);
        continue;
      }
      Node* next = e.node.get();
      if (gi.defined()) {
        auto& p = pending[next];
        p = p.defined() ? add(p, gi) : gi;
      }
      if (--deps[next] == 0) ready.push_back(next);
    }
  }
}

}  // namespace autograd
}  // namespace sadanet
