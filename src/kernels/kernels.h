// Kernel signatures, one slot per kernel. Conventions for every backend:
//  - tensors passed as outputs are allocated by the op, contiguous, on the same device;
//  - inputs are contiguous unless a comment says "strided";
//  - floating kernels support f32 and f64 on the CPU (f64 for gradient checks); a kernel that
//    meets a dtype it does not implement throws naming the kernel and the dtype.
#pragma once
#include <cstdint>

#include "kernels/registry.h"
#include "sadanet/ops.h"
#include "sadanet/random.h"
#include "sadanet/tensor.h"

namespace sadanet {

enum class UnaryOp : uint8_t {
  neg, exp, log, sqrt, rsqrt, abs, sign, square, relu, reciprocal,
  pow_scalar,   // x^alpha
  affine,       // alpha * x + beta
  clamp,        // min(max(x, alpha), beta) (use +-inf for one-sided)
  clamp_mask,   // 1 where alpha <= x <= beta else 0 (clamp's gradient mask)
  gt_scalar,    // x > alpha ? 1 : 0
  lt_scalar,    // x < alpha ? 1 : 0
};
enum class BinaryOp : uint8_t {
  add, sub, mul, div, maximum, minimum,
  gt, eq,          // 0/1 in the output dtype
  ge_mask,         // a >= b ? 1 : 0
  relu_backward,   // b > 0 ? a : 0  (a = grad, b = relu output or input)
};
enum class ReduceOp : uint8_t { sum, mean, max, var };

struct GemmArgs {
  // C[b] = alpha * op(A[b]) op(B[b]) + beta * C[b], row-major, for b in [0, batch).
  // op(A) is m x k, op(B) is k x n. lda/ldb/ldc are row strides of the stored matrices;
  // batch strides may be 0 to broadcast one operand.
  int64_t batch = 1, m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false;
  int64_t lda = 0, ldb = 0, ldc = 0;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;
  double alpha = 1.0, beta = 0.0;
};

namespace kernels {
// dst = src with dtype conversion; both on one device, same shape, either may be strided.
using CopyFn = void(const Tensor& src, Tensor& dst);
SADANET_KERNEL_SLOT(copy, CopyFn)
// Copies contiguous bytes between a device and the host (registered by non-CPU backends, under
// the non-CPU device type).
using TransferFn = void(const void* src, Device src_dev, void* dst, Device dst_dev, size_t nbytes);
SADANET_KERNEL_SLOT(transfer, TransferFn)
using FillFn = void(Tensor& dst, double value);  // dst strided
SADANET_KERNEL_SLOT(fill, FillFn)
using ArangeFn = void(Tensor& dst, double start, double step);
SADANET_KERNEL_SLOT(arange, ArangeFn)

// Random fills of a contiguous floating tensor, following random.h's Philox scheme.
using RandomFn = void(Tensor& dst, PhiloxCall call);
SADANET_KERNEL_SLOT(random_uniform, RandomFn)
SADANET_KERNEL_SLOT(random_normal, RandomFn)
// Raw 32-bit words (word i%4 of block i/4), u8/i32/i64 dst gets the word as unsigned 32-bit.
SADANET_KERNEL_SLOT(random_bits, RandomFn)

// out = op(x); x and out same shape, x strided allowed.
using UnaryFn = void(UnaryOp op, const Tensor& x, Tensor& out, double alpha, double beta);
SADANET_KERNEL_SLOT(unary, UnaryFn)
// out = op(a, b); a and b already expanded to out's shape (strided, stride 0 on broadcast dims).
using BinaryFn = void(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out);
SADANET_KERNEL_SLOT(binary, BinaryFn)

// x viewed as [outer, r, inner] (contiguous); out [outer, inner]. var uses `correction`.
// For max, `indices` (i64 [outer, inner], index in [0, r)) is filled when defined.
using ReduceFn = void(ReduceOp op, const Tensor& x, int64_t outer, int64_t r, int64_t inner,
                      Tensor& out, Tensor& indices, int64_t correction);
SADANET_KERNEL_SLOT(reduce, ReduceFn)

// x viewed as [outer, d, inner]; softmax along d.
using SoftmaxFn = void(const Tensor& x, int64_t outer, int64_t d, int64_t inner, bool log, Tensor& out);
SADANET_KERNEL_SLOT(softmax_forward, SoftmaxFn)
// grad_in = out * (g - sum(g*out)) (softmax) or g - exp(out) * sum(g) (log_softmax).
using SoftmaxBackwardFn = void(const Tensor& grad_out, const Tensor& out, int64_t outer, int64_t d,
                               int64_t inner, bool log, Tensor& grad_in);
SADANET_KERNEL_SLOT(softmax_backward, SoftmaxBackwardFn)

// logp viewed as [n, c, inner]; target i64 [n, inner]; weight [c] or undefined.
// loss [n, inner] per element (0 where ignored); wsum[0] = sum of weights used (f64 or logp dtype, 1 element).
using NllFn = void(const Tensor& logp, const Tensor& target, const Tensor& weight, int64_t n,
                   int64_t c, int64_t inner, int64_t ignore_index, Tensor& loss, Tensor& wsum);
SADANET_KERNEL_SLOT(nll_forward, NllFn)
// grad_logp[n, t, i] = -w[t] * grad_loss[n, i] (grad_loss per element, already scaled).
using NllBackwardFn = void(const Tensor& grad_loss, const Tensor& target, const Tensor& weight,
                           int64_t n, int64_t c, int64_t inner, int64_t ignore_index, Tensor& grad_logp);
SADANET_KERNEL_SLOT(nll_backward, NllBackwardFn)

// See GemmArgs; a, b, c are the storage tensors (pointers taken at their offsets).
using GemmFn = void(const GemmArgs& args, const Tensor& a, const Tensor& b, Tensor& c);
SADANET_KERNEL_SLOT(gemm, GemmFn)

// out[..., j, ...] = x[..., index[j], ...] along dim (x viewed [outer, dim_size, inner]).
using IndexSelectFn = void(const Tensor& x, int64_t outer, int64_t dim_size, int64_t inner,
                           const Tensor& index, Tensor& out);
SADANET_KERNEL_SLOT(index_select, IndexSelectFn)
// grad_x[..., index[j], ...] += grad_out[..., j, ...] (grad_x zero-filled by the op).
using IndexAddFn = void(const Tensor& grad_out, int64_t outer, int64_t dim_size, int64_t inner,
                        const Tensor& index, Tensor& grad_x);
SADANET_KERNEL_SLOT(index_add, IndexAddFn)
// Along dim viewed as [outer, d, inner] for x and [outer, d_index, inner] for index/out:
// out[o, j, i] = x[o, index[o, j, i], i].
using GatherFn = void(const Tensor& x, const Tensor& index, int64_t outer, int64_t d, int64_t d_index,
                      int64_t inner, Tensor& out);
SADANET_KERNEL_SLOT(gather, GatherFn)
// grad_x[o, index[o, j, i], i] += grad_out[o, j, i] (grad_x zero-filled by the op).
using ScatterAddFn = void(const Tensor& grad_out, const Tensor& index, int64_t outer, int64_t d,
                          int64_t d_index, int64_t inner, Tensor& grad_x);
SADANET_KERNEL_SLOT(scatter_add, ScatterAddFn)

// Convolution, NCHW, groups 1. bias may be undefined.
using Conv2dFn = void(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y);
SADANET_KERNEL_SLOT(conv2d_forward, Conv2dFn)
using Conv2dBackwardInputFn = void(const Tensor& grad_y, const Tensor& w, const Conv2dParams& p, Tensor& grad_x);
SADANET_KERNEL_SLOT(conv2d_backward_input, Conv2dBackwardInputFn)
using Conv2dBackwardWeightFn = void(const Tensor& grad_y, const Tensor& x, const Conv2dParams& p, Tensor& grad_w);
SADANET_KERNEL_SLOT(conv2d_backward_weight, Conv2dBackwardWeightFn)

// Max pooling, NCHW; indices (i64, same shape as y) hold the flat h*W+w position in the input plane.
using MaxPoolFn = void(const Tensor& x, const Pool2dParams& p, Tensor& y, Tensor& indices);
SADANET_KERNEL_SLOT(max_pool2d_forward, MaxPoolFn)
using MaxPoolBackwardFn = void(const Tensor& grad_y, const Tensor& indices, Tensor& grad_x);  // grad_x zeroed by the op
SADANET_KERNEL_SLOT(max_pool2d_backward, MaxPoolBackwardFn)

// Batch norm over [N, C, S] (S = H*W, or 1 for [N, C] input).
// Training: batch mean and biased variance normalise; save_mean / save_invstd ([C]) are written;
// running_mean/running_var (when defined) become (1-m)*running + m*batch (unbiased variance).
using BatchNormTrainFn = void(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                              Tensor& running_var, double momentum, double eps, Tensor& y, Tensor& save_mean,
                              Tensor& save_invstd);
SADANET_KERNEL_SLOT(batch_norm_train, BatchNormTrainFn)
// Eval/frozen: y = (x - running_mean) * rsqrt(running_var + eps) * weight + bias.
using BatchNormEvalFn = void(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                             const Tensor& running_var, double eps, Tensor& y);
SADANET_KERNEL_SLOT(batch_norm_eval, BatchNormEvalFn)
// Gradients. train=true: statistics are functions of x (save_mean/save_invstd are the batch's);
// train=false: constants (mean/invstd from running statistics). grad_weight/grad_bias may be
// undefined when not needed; weight may be undefined (treated as 1).
using BatchNormBackwardFn = void(const Tensor& grad_y, const Tensor& x, const Tensor& weight, const Tensor& mean,
                                 const Tensor& invstd, bool train, Tensor& grad_x, Tensor& grad_weight,
                                 Tensor& grad_bias);
SADANET_KERNEL_SLOT(batch_norm_backward, BatchNormBackwardFn)

// Optimizer steps over one parameter (all contiguous f32/f64, same shape). step is 1-based.
struct AdamArgs {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled;   // AdamW: p -= lr*wd*p; Adam: g += wd*p
  int64_t step;
};
using AdamFn = void(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const AdamArgs& a);
SADANET_KERNEL_SLOT(adam_step, AdamFn)
struct SgdArgs {
  double lr, momentum, dampening, weight_decay;
  bool nesterov;
  bool first_step;  // momentum buffer starts as the gradient (PyTorch)
};
using SgdFn = void(Tensor& param, const Tensor& grad, Tensor& momentum_buf, const SgdArgs& a);
SADANET_KERNEL_SLOT(sgd_step, SgdFn)

}  // namespace kernels
}  // namespace sadanet
