// Reverse-mode autograd. Every differentiable op calls record() once with its output, its
// inputs and a backward lambda written beside the forward. The lambda receives the gradient of
// the output and returns one gradient per input (an undefined Tensor where there is none); it
// is built from ops, so it runs on whatever device the tensors live on.
//
// Saved tensors: a lambda may capture inputs as they are, but must capture the op's own output
// as out.detach(), otherwise output -> node -> output forms a reference cycle.
#pragma once
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "sadanet/tensor.h"

namespace sadanet {

using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

struct Edge {
  std::shared_ptr<Node> node;         // the input's grad_fn, or
  std::shared_ptr<TensorImpl> leaf;   // the input itself when it is a leaf that requires grad
  Shape shape;                        // the input's shape, to check the returned gradient
  DType dtype = DType::f32;
  bool active() const { return node || leaf; }
};

struct Node {
  std::string name;
  std::vector<Edge> inputs;           // one per input given to record(), in order
  BackwardFn backward;                // released after use unless retain_graph
  std::vector<std::weak_ptr<TensorImpl>> retained;  // outputs that asked for retain_grad()
};

bool grad_enabled();
void set_grad_enabled(bool on);

// Turns recording off for its scope (optimizer steps, evaluation, running-stat updates).
class NoGradGuard {
 public:
  NoGradGuard() : prev_(grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;
 private:
  bool prev_;
};

// True when grad mode is on and any input requires grad: the op must then record.
bool any_requires_grad(std::initializer_list<Tensor> inputs);
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Attaches a node to `out` when any input requires grad (and grad mode is on); returns out.
Tensor record(const char* name, Tensor out, const std::vector<Tensor>& inputs, BackwardFn fn);

namespace autograd {
// Runs the backward pass from `roots` with the given gradients (same shapes).
void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph);
}  // namespace autograd

}  // namespace sadanet
