// conv2d, pooling, batch_norm and linear algebra in the op table. PyTorch twins:
// tools/golden/cases/nn.py. Products sum many f32 terms, so their golden atol is 1e-4.
#include "op_table.h"

namespace sadanet::test {
namespace {
using X = const std::vector<Tensor>&;
const Tol kSums{1e-4, 1e-4};  // f32 sums of ~100 products vs PyTorch in f64

Conv2dParams conv(int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh = 1, int64_t dw = 1) {
  return {sh, sw, ph, pw, dh, dw};
}
OpCase sums_case(std::string name, std::vector<InputSpec> in, std::function<Tensor(X)> fn) {
  OpCase c{std::move(name), std::move(in), std::move(fn)};
  c.golden = c.device = kSums;
  return c;
}
OpCase conv_case(std::string name, Shape x, Shape w, bool bias, Conv2dParams p) {
  std::vector<InputSpec> in{{x}, {w}};
  if (bias) in.push_back({{w[0]}});
  return sums_case(std::move(name), in, [bias, p](X t) { return conv2d(t[0], t[1], bias ? t[2] : Tensor(), p); });
}

// Running statistics are buffers: given without grad, cloned inside fn so that train mode's
// in-place update never changes the inputs the finite differences re-evaluate.
OpCase bn_case(std::string name, Shape x, BatchNormMode mode) {
  const int64_t C = x[1];
  return {std::move(name),
          {{x}, {{C}}, {{C}}, {{C}, Gen::normal, false}, {{C}, Gen::positive, false}},
          [mode](X t) { return batch_norm(t[0], t[1], t[2], t[3].clone(), t[4].clone(), mode, 0.1, 1e-5); }};
}

OpCase mm_case(std::string name, Shape a, Shape b, std::function<Tensor(X)> fn) {
  return sums_case(std::move(name), {{a}, {b}}, std::move(fn));
}
Tensor mm(X t) { return matmul(t[0], t[1]); }

SADANET_OP_CASES({
    conv_case("conv2d/1x1", {2, 3, 5, 4}, {4, 3, 1, 1}, true, conv(1, 1, 0, 0)),
    conv_case("conv2d/1x1_s2_nobias", {2, 3, 5, 5}, {4, 3, 1, 1}, false, conv(2, 2, 0, 0)),
    conv_case("conv2d/3x3_s1", {2, 3, 5, 5}, {4, 3, 3, 3}, true, conv(1, 1, 1, 1)),
    conv_case("conv2d/3x3_s1_nobias", {1, 2, 6, 5}, {3, 2, 3, 3}, false, conv(1, 1, 1, 1)),
    conv_case("conv2d/3x3_s2", {2, 2, 7, 6}, {3, 2, 3, 3}, true, conv(2, 2, 1, 1)),
    conv_case("conv2d/7x7_s2_p3", {1, 2, 9, 8}, {2, 2, 7, 7}, true, conv(2, 2, 3, 3)),
    conv_case("conv2d/nonsquare", {1, 2, 6, 7}, {3, 2, 3, 2}, true, conv(2, 1, 1, 0)),
    conv_case("conv2d/dilated", {1, 2, 7, 7}, {2, 2, 3, 3}, false, conv(1, 1, 2, 2, 2, 2)),

    // Normal inputs: ties within a window (where finite differences would break) have probability 0.
    {"max_pool2d/3x3_s2_p1", {{{2, 2, 7, 7}}}, [](X t) { return max_pool2d(t[0], Pool2dParams::make(3, 2, 1)); }},
    {"max_pool2d/2x2", {{{2, 3, 6, 6}}}, [](X t) { return max_pool2d(t[0], Pool2dParams::make(2, 2, 0)); }},
    {"max_pool2d/2x2_odd", {{{1, 2, 5, 7}}}, [](X t) { return max_pool2d(t[0], Pool2dParams::make(2, 2, 0)); }},
    {"global_avg_pool2d/basic", {{{2, 3, 4, 5}}}, [](X t) { return global_avg_pool2d(t[0]); }},

    bn_case("batch_norm/train_4d", {4, 3, 3, 3}, BatchNormMode::train),
    bn_case("batch_norm/train_2d", {6, 4}, BatchNormMode::train),
    bn_case("batch_norm/eval_4d", {3, 3, 3, 3}, BatchNormMode::eval),
    bn_case("batch_norm/eval_2d", {5, 4}, BatchNormMode::eval),
    bn_case("batch_norm/frozen_4d", {3, 3, 3, 3}, BatchNormMode::frozen),
    {"batch_norm/eval_noaffine",
     {{{4, 3, 2, 2}}, {{3}, Gen::normal, false}, {{3}, Gen::positive, false}},
     [](X t) { return batch_norm(t[0], Tensor(), Tensor(), t[1], t[2], BatchNormMode::eval); }},
    // The running-statistics update itself (momentum 0.1, unbiased variance); no gradient.
    [] {
      OpCase c{"batch_norm/train_running_var",
               {{{4, 3, 2, 2}, Gen::normal, false}, {{3}, Gen::normal, false}, {{3}, Gen::positive, false}},
               [](X t) {
                 Tensor rm = t[1].clone(), rv = t[2].clone();
                 batch_norm(t[0], Tensor(), Tensor(), rm, rv, BatchNormMode::train, 0.1, 1e-5);
                 return cat({rm, rv}, 0);
               }};
      c.check_grad = false;  // running statistics are buffers, outside the graph
      return c;
    }(),

    sums_case("linear/bias", {{{3, 5}}, {{4, 5}}, {{4}}}, [](X t) { return linear(t[0], t[1], t[2]); }),
    mm_case("linear/nobias_3d", {2, 3, 5}, {4, 5}, [](X t) { return linear(t[0], t[1]); }),
    mm_case("matmul/2d", {3, 4}, {4, 5}, mm),
    mm_case("matmul/1d_1d", {5}, {5}, mm),
    mm_case("matmul/1d_2d", {4}, {4, 3}, mm),
    mm_case("matmul/2d_1d", {3, 4}, {4}, mm),
    mm_case("matmul/1d_batched", {4}, {2, 4, 3}, mm),
    mm_case("matmul/batched_2d", {2, 3, 4}, {4, 5}, mm),
    mm_case("matmul/batched_broadcast", {2, 1, 3, 4}, {3, 4, 2}, mm),
    mm_case("matmul/batched_broadcast_mixed", {2, 1, 3, 4}, {1, 3, 4, 2}, mm),
    // Transposed views reach the GEMM as transpose flags, not copies.
    mm_case("matmul/transposed_views", {4, 3}, {5, 4}, [](X t) { return matmul(t[0].t(), t[1].t()); }),
    mm_case("bmm/basic", {3, 2, 4}, {3, 4, 5}, [](X t) { return bmm(t[0], t[1]); }),
    mm_case("bmm/transposed", {3, 4, 2}, {3, 5, 4},
            [](X t) { return bmm(t[0].transpose(1, 2), t[1].transpose(1, 2)); }),
});

}  // namespace
}  // namespace sadanet::test
