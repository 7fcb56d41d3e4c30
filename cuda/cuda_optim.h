// Fused optimizer entry points of the CUDA backend, beside the per-tensor kernel slots
// (adam_step, sgd_step). The optimizers in src/optim call the slots today; adam_multi_tensor is
// for them to adopt: one launch updates every parameter of a group.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/kernels.h"

namespace sadanet::cuda {

// One parameter and its Adam state: contiguous tensors of one shape and dtype (f32 or f64) on one
// CUDA device; step is this parameter's 1-based step count (its bias corrections use it).
struct AdamParamRef {
  Tensor param, grad, exp_avg, exp_avg_sq;
  int64_t step = 1;
};

// Applies exactly the adam_step kernel's update (same arithmetic, bit for bit) to every entry,
// with one kernel launch per dtype present. `hyper` gives lr, beta1, beta2, eps, weight_decay and
// decoupled (AdamW); its `step` is ignored in favour of each entry's. Entries with no elements
// are skipped. Every entry must be on the same device.
void adam_multi_tensor(const std::vector<AdamParamRef>& params, const kernels::AdamArgs& hyper);

}  // namespace sadanet::cuda
