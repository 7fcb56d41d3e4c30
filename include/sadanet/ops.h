// The differentiable op set. Each op checks its inputs (throwing an Error that names the op,
// what it expected and what it got), computes its output through the kernel registered for the
// inputs' device, and records its backward beside the forward (src/ops/*.cpp).
#pragma once
#include <optional>
#include <vector>

#include "sadanet/autograd.h"
#include "sadanet/random.h"
#include "sadanet/tensor.h"

namespace sadanet {

// ---- element-wise, broadcasting like NumPy/PyTorch ----------------------------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);  // gradient to the larger (ties: a)
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double s);
Tensor mul(const Tensor& a, double s);
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor abs(const Tensor& x);      // gradient sign(x), 0 at 0 (as PyTorch)
Tensor square(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi);  // gradient 1 inside [lo, hi]
Tensor relu(const Tensor& x);
// Comparisons give 0/1 in x's dtype and carry no gradient.
Tensor gt(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& x, double s);
Tensor lt(const Tensor& x, double s);
Tensor eq(const Tensor& a, const Tensor& b);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& a) { return neg(a); }
inline Tensor operator+(const Tensor& a, double s) { return add(a, s); }
inline Tensor operator-(const Tensor& a, double s) { return add(a, -s); }
inline Tensor operator*(const Tensor& a, double s) { return mul(a, s); }
inline Tensor operator/(const Tensor& a, double s) { return mul(a, 1.0 / s); }
inline Tensor operator*(double s, const Tensor& a) { return mul(a, s); }

// Sums `x` down to `shape` over broadcast dimensions (the backward of broadcasting).
Tensor sum_to(const Tensor& x, const Shape& shape);

// ---- reductions over dims (empty dims = all) -----------------------------------------------------
Tensor sum(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
// Maximum values; the gradient goes to the first maximal element of each reduced group.
Tensor max(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);  // i64, no gradient
// Variance with Bessel-style correction (1 = unbiased, as torch.var's default).
Tensor var(const Tensor& x, std::vector<int64_t> dims = {}, int64_t correction = 1, bool keepdim = false);

// ---- shape ---------------------------------------------------------------------------------------
Tensor cat(const std::vector<Tensor>& xs, int64_t dim);
Tensor stack(const std::vector<Tensor>& xs, int64_t dim);
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);  // index: i64 1-D
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);        // index: i64, x's rank

// ---- linear algebra ------------------------------------------------------------------------------
// 1-D/2-D/batched (>=3-D, batch dims broadcast) as torch.matmul.
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor bmm(const Tensor& a, const Tensor& b);                             // [B,M,K] x [B,K,N]
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());  // x W^T + b

// ---- neural-network ops (NCHW) -------------------------------------------------------------------
struct Conv2dParams {
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  static Conv2dParams make(int64_t stride, int64_t pad, int64_t dilation = 1) {
    return {stride, stride, pad, pad, dilation, dilation};
  }
};
// x [N,C,H,W], weight [O,C,kh,kw], bias [O] or undefined. groups = 1.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& p);

// Three modes: train (batch statistics; running statistics updated in place with momentum and
// the unbiased batch variance), eval (running statistics), frozen (running statistics, never
// updated, while weight and bias still receive gradients — the same forward as eval).
enum class BatchNormMode { train, eval, frozen };
const char* batch_norm_mode_name(BatchNormMode m);
BatchNormMode batch_norm_mode_from_name(const std::string& s);
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                  Tensor running_var, BatchNormMode mode, double momentum = 0.1, double eps = 1e-5);

struct Pool2dParams {
  int64_t kernel_h = 2, kernel_w = 2;
  int64_t stride_h = 2, stride_w = 2;
  int64_t pad_h = 0, pad_w = 0;
  static Pool2dParams make(int64_t kernel, int64_t stride, int64_t pad) {
    return {kernel, kernel, stride, stride, pad, pad};
  }
};
Tensor max_pool2d(const Tensor& x, const Pool2dParams& p);
Tensor global_avg_pool2d(const Tensor& x);  // [N,C,H,W] -> [N,C]

Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

enum class Reduction { none, mean, sum };
// logits [N,C] (or [N,C,d...]), target i64 class ids; weight [C] optional. mean = weighted mean
// (sum of w[t_i] * loss_i / sum of w[t_i]) as PyTorch. Targets equal to ignore_index are skipped.
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const Tensor& weight = Tensor(),
                Reduction reduction = Reduction::mean, int64_t ignore_index = -100);
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight = Tensor(),
                     Reduction reduction = Reduction::mean, int64_t ignore_index = -100);
Tensor mse_loss(const Tensor& a, const Tensor& b, Reduction reduction = Reduction::mean);
// x / max(||x||_2 over dim, eps), as torch.nn.functional.normalize.
Tensor normalize(const Tensor& x, int64_t dim = 1, double eps = 1e-12);
// Zeroes each element with probability p and scales the rest by 1/(1-p) when training.
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);

}  // namespace sadanet
