// Optimizers with PyTorch's exact update rules (torch.optim.Adam / AdamW / SGD, single-tensor,
// non-amsgrad): a run started from the same parameters and gradients follows the same trajectory
// to float rounding. Updates happen in place through the kernels of the parameters' device.
//
// State checkpoints as one flat name -> Tensor map (scalars as 0-d tensors), so a checkpoint
// writer that stores tensors stores an optimizer too:
//   "type.<Adam|AdamW|SGD>"                   marker (i64 1), checked on load
//   "param_groups.<g>.<hyper-parameter>"      f64: lr, weight_decay, beta1, ... (resolved values)
//   "param_groups.<g>.num_params"             i64
//   "state.<g>.<i>.step"                      i64, steps taken by parameter i of group g
//   "state.<g>.<i>.<buffer>"                  exp_avg, exp_avg_sq, momentum_buffer
// Parameters that never had a gradient have no "state.*" entries, as in PyTorch.
#pragma once
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "sadanet/tensor.h"

namespace sadanet::optim {

// lr / weight_decay set to kInherit take the optimizer's options.
inline constexpr double kInherit = std::numeric_limits<double>::quiet_NaN();

struct ParamGroup {
  std::vector<Tensor> params;
  double lr = kInherit;
  double weight_decay = kInherit;
  // Per-group overrides of the other hyper-parameters; unset ones take the optimizer's options.
  // The optimizer fills them all in when the group is added, so after construction every field
  // holds the value in force (and a scheduler may change any of them between steps).
  std::optional<double> beta1, beta2, eps;   // Adam, AdamW
  std::optional<double> momentum, dampening; // SGD
  std::optional<bool> nesterov;              // SGD
};

using StateDict = std::map<std::string, Tensor>;

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient; the others are skipped (no state).
  virtual void step() = 0;
  // Drops every parameter's gradient (PyTorch's set_to_none=True).
  void zero_grad();
  virtual const char* name() const = 0;

  std::vector<ParamGroup>& groups() { return groups_; }
  const std::vector<ParamGroup>& groups() const { return groups_; }
  void add_param_group(ParamGroup g);

  // Copies of the state (later steps do not change a saved dict).
  StateDict state_dict() const;
  // Restores hyper-parameters, step counts and buffers. Throws an Error naming the key when the
  // dict comes from another optimizer type or another parameter layout, or a shape differs.
  void load_state_dict(const StateDict& sd);

 protected:
  Optimizer() = default;
  struct ParamState {
    int64_t step = 0;
    std::map<std::string, Tensor> buffers;
  };
  // Called by the most-derived constructors (virtuals are not ready inside base constructors).
  void init_groups(std::vector<ParamGroup> groups);
  static std::vector<ParamGroup> one_group(std::vector<Tensor> params);
  // Fills unset fields of g from the options and validates them.
  virtual void resolve(ParamGroup& g) const = 0;
  // The hyper-parameters saved per group, as (name, value); set_hparam restores one.
  virtual std::vector<std::pair<std::string, double>> hparams(const ParamGroup& g) const = 0;
  virtual void set_hparam(ParamGroup& g, const std::string& name, double v) const = 0;
  // Names of the per-parameter buffers this optimizer keeps (for load checks).
  virtual std::vector<std::string> buffer_names(const ParamGroup& g) const = 0;
  // The state of a parameter, created empty on first use.
  ParamState& state(const Tensor& p) { return state_[p.impl()]; }

 private:
  std::vector<ParamGroup> groups_;
  std::unordered_map<const TensorImpl*, ParamState> state_;
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // Adam: L2 added to the gradient
};
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;  // AdamW: decoupled, p *= 1 - lr * wd (PyTorch's default 1e-2)
};

// Adam and AdamW share everything but where weight decay enters.
class AdamBase : public Optimizer {
 public:
  void step() override;

 protected:
  AdamBase(const AdamOptions& o, bool decoupled) : opts_(o), decoupled_(decoupled) {}
  void resolve(ParamGroup& g) const override;
  std::vector<std::pair<std::string, double>> hparams(const ParamGroup& g) const override;
  void set_hparam(ParamGroup& g, const std::string& name, double v) const override;
  std::vector<std::string> buffer_names(const ParamGroup& g) const override;

 private:
  AdamOptions opts_;
  bool decoupled_;
};

class Adam : public AdamBase {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& o = {});
  Adam(std::vector<ParamGroup> groups, const AdamOptions& o = {});
  const char* name() const override { return "Adam"; }
};

class AdamW : public AdamBase {
 public:
  AdamW(std::vector<Tensor> params, const AdamWOptions& o = {});
  AdamW(std::vector<ParamGroup> groups, const AdamWOptions& o = {});
  const char* name() const override { return "AdamW"; }
};

struct SgdOptions {
  double lr = 1e-3;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;  // needs momentum > 0 and dampening 0 (as PyTorch)
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, const SgdOptions& o = {});
  SGD(std::vector<ParamGroup> groups, const SgdOptions& o = {});
  void step() override;
  const char* name() const override { return "SGD"; }

 protected:
  void resolve(ParamGroup& g) const override;
  std::vector<std::pair<std::string, double>> hparams(const ParamGroup& g) const override;
  void set_hparam(ParamGroup& g, const std::string& name, double v) const override;
  std::vector<std::string> buffer_names(const ParamGroup& g) const override;

 private:
  SgdOptions opts_;
};

}  // namespace sadanet::optim
