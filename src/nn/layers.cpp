#include "sadanet/nn/layers.h"

#include <cmath>

namespace sadanet::nn {

Conv2d::Conv2d(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding, bool has_bias,
               Generator* gen, ConvInit init)
    : params(Conv2dParams::make(stride, padding)) {
  SADANET_CHECK(in > 0 && out > 0 && kernel > 0 && stride > 0 && padding >= 0, "Conv2d: invalid configuration in=",
                in, " out=", out, " kernel=", kernel, " stride=", stride, " padding=", padding);
  NoGradGuard ng;
  Tensor w = empty({out, in, kernel, kernel});
  const double fan_in = static_cast<double>(in * kernel * kernel), fan_out = static_cast<double>(out * kernel * kernel);
  if (init == ConvInit::kaiming_fan_out) normal_(w, 0.0, std::sqrt(2.0 / fan_out), gen);
  else uniform_(w, -1.0 / std::sqrt(fan_in), 1.0 / std::sqrt(fan_in), gen);
  weight = register_parameter("weight", w);
  if (has_bias) {
    Tensor b = empty({out});
    if (init == ConvInit::kaiming_fan_out) b.zero_();
    else uniform_(b, -1.0 / std::sqrt(fan_in), 1.0 / std::sqrt(fan_in), gen);
    bias = register_parameter("bias", b);
  }
}

Tensor Conv2d::forward(const Tensor& x) const { return conv2d(x, weight, bias, params); }

BatchNorm2d::BatchNorm2d(int64_t c, double eps_, double momentum_) : eps(eps_), momentum(momentum_) {
  SADANET_CHECK(c > 0, "BatchNorm2d: expected a positive channel count, got ", c);
  weight = register_parameter("weight", ones({c}));
  bias = register_parameter("bias", zeros({c}));
  running_mean = register_buffer("running_mean", zeros({c}));
  running_var = register_buffer("running_var", ones({c}));
  num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, TensorOptions(DType::i64)));
}

void BatchNorm2d::set_batch_norm_mode(BatchNormMode m) {
  frozen_ = m == BatchNormMode::frozen;
  if (m == BatchNormMode::train) train(true);
  if (m == BatchNormMode::eval) train(false);
}

BatchNormMode BatchNorm2d::effective_mode() const {
  if (frozen_) return BatchNormMode::frozen;
  return is_training() ? BatchNormMode::train : BatchNormMode::eval;
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  BatchNormMode m = effective_mode();
  if (m == BatchNormMode::train) {
    NoGradGuard ng;
    num_batches_tracked.copy_(add(num_batches_tracked.to(DType::f64), 1.0));
  }
  return batch_norm(x, weight, bias, running_mean, running_var, m, momentum, eps);
}

Linear::Linear(int64_t in, int64_t out, bool has_bias, Generator* gen) {
  SADANET_CHECK(in > 0 && out > 0, "Linear: invalid sizes in=", in, " out=", out);
  NoGradGuard ng;
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  Tensor w = empty({out, in});
  uniform_(w, -bound, bound, gen);
  weight = register_parameter("weight", w);
  if (has_bias) {
    Tensor b = empty({out});
    uniform_(b, -bound, bound, gen);
    bias = register_parameter("bias", b);
  }
}

Tensor Linear::forward(const Tensor& x) const { return linear(x, weight, bias); }

}  // namespace sadanet::nn
