// A small module layer: named parameters and buffers with torchvision's state_dict names,
// train()/eval(), a batch-norm mode, requires_grad per parameter, and device moves.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sadanet/ops.h"
#include "sadanet/tensor.h"

namespace sadanet::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// What load_state_dict found, by name. `ok()` when nothing is missing or mismatched.
struct LoadReport {
  std::vector<std::string> missing;      // in the model, not in the file
  std::vector<std::string> unexpected;   // in the file, not in the model
  std::vector<std::string> mismatched;   // "name: file [a, b] vs model [c, d]"
  std::vector<std::string> dropped;      // skipped on purpose (e.g. an ImageNet fc), with why
  bool ok() const { return missing.empty() && mismatched.empty(); }
  std::string str() const;
};

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Recursive, PyTorch order (own parameters, own buffers, then children), dotted names.
  NamedTensors named_parameters() const;
  NamedTensors named_buffers() const;
  NamedTensors state_dict() const;  // parameters and buffers, as torch.nn.Module.state_dict()
  std::vector<Tensor> parameters() const;
  std::vector<Tensor> trainable_parameters() const;  // those with requires_grad
  int64_t num_parameters() const;

  // Copies values into the existing tensors (shapes must match; dtypes are converted).
  // strict: throw listing every problem; otherwise report them and load what fits.
  LoadReport load_state_dict(const NamedTensors& sd, bool strict = true);

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Sets every BatchNorm below to train/eval/frozen behaviour (see BatchNorm2d).
  virtual void set_batch_norm_mode(BatchNormMode m);
  void set_requires_grad(bool r);
  void zero_grad();
  void to(Device d);
  // Converts floating parameters and buffers (f64 runs a model exactly, for checks); integer
  // buffers such as num_batches_tracked keep their type.
  void to(DType t);

  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }
  std::shared_ptr<Module> child(const std::string& name) const;

 protected:
  Tensor& register_parameter(const std::string& name, Tensor t);
  Tensor& register_buffer(const std::string& name, Tensor t);
  template <class M> std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }
  virtual void on_train(bool) {}

 private:
  void collect(const std::string& prefix, bool params, bool buffers, NamedTensors& out) const;
  std::vector<std::pair<std::string, Tensor>> params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace sadanet::nn
