// Layers with torchvision's parameter names and initialisation.
#pragma once
#include "sadanet/nn/module.h"

namespace sadanet::nn {

enum class ConvInit {
  kaiming_fan_out,  // N(0, 2/fan_out): torchvision's ResNet
  pytorch_default,  // U(+-1/sqrt(fan_in)) for weight and bias: torch.nn.Conv2d's own reset
};

class Conv2d : public Module {
 public:
  // Weight [out, in, k, k].
  Conv2d(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1, int64_t padding = 0, bool bias = false,
         Generator* gen = nullptr, ConvInit init = ConvInit::kaiming_fan_out);
  Tensor forward(const Tensor& x) const;
  Tensor weight, bias;
  Conv2dParams params;
};

// BatchNorm2d (also [N, C] input). Behaviour: training and not frozen -> batch statistics and a
// running-statistics update (num_batches_tracked counts them); eval -> running statistics;
// frozen -> running statistics in train() too, never updated, while weight/bias keep training.
class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t channels, double eps = 1e-5, double momentum = 0.1);
  Tensor forward(const Tensor& x);
  void set_batch_norm_mode(BatchNormMode m) override;
  BatchNormMode effective_mode() const;
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  double eps, momentum;

 private:
  bool frozen_ = false;
};

class Linear : public Module {
 public:
  // PyTorch's default init: kaiming_uniform_(a=sqrt(5)) for weight, U(+-1/sqrt(in)) for bias.
  Linear(int64_t in, int64_t out, bool bias = true, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) const;
  Tensor weight, bias;
};

}  // namespace sadanet::nn
