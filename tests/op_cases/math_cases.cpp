// Element-wise, reduction, softmax, loss and indexing ops (src/ops/{elementwise,reduce,softmax,
// loss,indexing}.cpp). PyTorch twins: tools/golden/cases/math.py. Inputs stay at a few dozen
// elements: the f64 finite differences evaluate each case twice per input element.
#include "op_table.h"

namespace sadanet::test {
namespace {
using X = const std::vector<Tensor>&;

// Cases whose output carries no gradient (comparisons, argmax): forward checks only.
OpCase no_grad(OpCase c) {
  c.check_grad = false;
  return c;
}
// Dropout draws its mask from a generator made inside the case with a fixed seed, so every
// evaluation (finite differences included) sees the same mask; PyTorch has no twin.
OpCase random_case(OpCase c) {
  c.random = true;
  return c;
}

const InputSpec kIdx5_4{{4}, Gen::index, false, 5};

// ---- element-wise ------------------------------------------------------------------------------
SADANET_OP_CASES({
    {"add/same_shape", {{{3, 4}}, {{3, 4}}}, [](X x) { return x[0] + x[1]; }},
    {"add/broadcast_row", {{{3, 4}}, {{4}}}, [](X x) { return x[0] + x[1]; }},
    {"add/broadcast_col", {{{3, 4}}, {{3, 1}}}, [](X x) { return x[0] + x[1]; }},
    {"add/broadcast_scalar_shaped", {{{3, 4}}, {{}}}, [](X x) { return x[0] + x[1]; }},
    {"add/broadcast_one", {{{1}}, {{2, 3}}}, [](X x) { return x[0] + x[1]; }},
    {"add/broadcast_3d", {{{2, 1, 4}}, {{3, 1}}}, [](X x) { return x[0] + x[1]; }},
    {"add/noncontiguous", {{{4, 3}}, {{3, 4}}}, [](X x) { return x[0].t() + x[1]; }},
    {"sub/broadcast_row", {{{3, 4}}, {{4}}}, [](X x) { return x[0] - x[1]; }},
    {"sub/broadcast_3d", {{{3, 1}}, {{2, 3, 4}}}, [](X x) { return x[0] - x[1]; }},
    {"mul/same_shape", {{{3, 4}}, {{3, 4}}}, [](X x) { return x[0] * x[1]; }},
    {"mul/broadcast_col", {{{3, 4}}, {{3, 1}}}, [](X x) { return x[0] * x[1]; }},
    {"mul/broadcast_both", {{{3, 1}}, {{1, 4}}}, [](X x) { return x[0] * x[1]; }},
    {"mul/broadcast_3d", {{{2, 3, 4}}, {{3, 4}}}, [](X x) { return x[0] * x[1]; }},
    {"mul/same_input_twice", {{{3, 4}}}, [](X x) { return x[0] * x[0]; }},
    {"div/same_shape", {{{3, 4}}, {{3, 4}, Gen::positive}}, [](X x) { return x[0] / x[1]; }},
    {"div/broadcast_row", {{{3, 4}}, {{4}, Gen::positive}}, [](X x) { return x[0] / x[1]; }},
    {"div/broadcast_scalar_numerator", {{{}}, {{3, 4}, Gen::positive}}, [](X x) { return x[0] / x[1]; }},
    {"maximum/same_shape", {{{3, 4}}, {{3, 4}}}, [](X x) { return maximum(x[0], x[1]); }},
    {"maximum/broadcast_row", {{{3, 4}}, {{4}}}, [](X x) { return maximum(x[0], x[1]); }},
    {"minimum/same_shape", {{{3, 4}}, {{3, 4}}}, [](X x) { return minimum(x[0], x[1]); }},
    {"minimum/broadcast_col", {{{3, 4}}, {{3, 1}}}, [](X x) { return minimum(x[0], x[1]); }},
    {"add_scalar/basic", {{{3, 4}}}, [](X x) { return x[0] + 2.5; }},
    {"sub_scalar/basic", {{{3, 4}}}, [](X x) { return x[0] - 1.25; }},
    {"mul_scalar/basic", {{{3, 4}}}, [](X x) { return x[0] * -1.5; }},
    {"div_scalar/basic", {{{3, 4}}}, [](X x) { return x[0] / 4.0; }},
    {"neg/basic", {{{3, 4}}}, [](X x) { return -x[0]; }},
    {"exp/basic", {{{3, 4}, Gen::unit}}, [](X x) { return exp(x[0]); }},
    {"log/basic", {{{3, 4}, Gen::positive}}, [](X x) { return log(x[0]); }},
    {"sqrt/basic", {{{3, 4}, Gen::positive}}, [](X x) { return sqrt(x[0]); }},
    {"rsqrt/basic", {{{3, 4}, Gen::positive}}, [](X x) { return rsqrt(x[0]); }},
    {"abs/basic", {{{3, 4}, Gen::away}}, [](X x) { return abs(x[0]); }},
    {"square/basic", {{{3, 4}}}, [](X x) { return square(x[0]); }},
    {"square/noncontiguous", {{{4, 3}}}, [](X x) { return square(x[0].t()); }},
    {"pow/fractional", {{{3, 4}, Gen::positive}}, [](X x) { return pow(x[0], 1.7); }},
    {"pow/negative_fractional", {{{3, 4}, Gen::positive}}, [](X x) { return pow(x[0], -2.5); }},
    {"pow/cube", {{{3, 4}}}, [](X x) { return pow(x[0], 3.0); }},
    {"pow/half", {{{3, 4}, Gen::positive}}, [](X x) { return pow(x[0], 0.5); }},
    {"pow/zero", {{{3, 4}}}, [](X x) { return pow(x[0], 0.0); }},
    {"clamp/two_sided", {{{4, 5}, Gen::away}}, [](X x) { return clamp(x[0], -0.7, 0.5); }},
    {"clamp/lo_only", {{{4, 5}, Gen::away}}, [](X x) { return clamp(x[0], 0.3, std::nullopt); }},
    {"clamp/hi_only", {{{4, 5}, Gen::away}}, [](X x) { return clamp(x[0], std::nullopt, -0.4); }},
    {"relu/basic", {{{4, 5}, Gen::away}}, [](X x) { return relu(x[0]); }},
    {"relu/3d_noncontiguous", {{{2, 3, 4}, Gen::away}}, [](X x) { return relu(x[0].permute({2, 0, 1})); }},
    {"sum_to/broadcast_back", {{{2, 3, 4}}}, [](X x) { return sum_to(x[0], {3, 1}); }},
    {"sum_to/leading_only", {{{2, 3, 4}}}, [](X x) { return sum_to(x[0], {3, 4}); }},
    no_grad({"gt/tensor_broadcast", {{{3, 4}}, {{4}}}, [](X x) { return gt(x[0], x[1]); }}),
    no_grad({"gt/scalar", {{{3, 4}}}, [](X x) { return gt(x[0], 0.25); }}),
    no_grad({"lt/scalar", {{{3, 4}}}, [](X x) { return lt(x[0], -0.25); }}),
    // maximum(a, b) equals a exactly where a >= b: eq sees both outcomes.
    no_grad({"eq/with_maximum", {{{3, 4}}, {{3, 4}}}, [](X x) { return eq(x[0], maximum(x[0], x[1])); }}),
});

// ---- reductions --------------------------------------------------------------------------------
SADANET_OP_CASES({
    {"sum/all", {{{3, 4}}}, [](X x) { return sum(x[0]); }},
    {"sum/dim0", {{{3, 4}}}, [](X x) { return sum(x[0], {0}); }},
    {"sum/dim1_keepdim", {{{3, 4}}}, [](X x) { return sum(x[0], {1}, true); }},
    {"sum/negative_dim", {{{2, 3, 4}}}, [](X x) { return sum(x[0], {-1}); }},
    {"sum/middle", {{{2, 3, 4}}}, [](X x) { return sum(x[0], {1}); }},
    {"sum/adjacent_dims", {{{2, 3, 4}}}, [](X x) { return sum(x[0], {1, 2}); }},
    {"sum/nonadjacent_keepdim", {{{2, 3, 4}}}, [](X x) { return sum(x[0], {0, 2}, true); }},
    {"sum/noncontiguous", {{{4, 3}}}, [](X x) { return sum(x[0].t(), {1}); }},
    {"mean/all", {{{3, 4}}}, [](X x) { return mean(x[0]); }},
    {"mean/nonadjacent", {{{2, 3, 4}}}, [](X x) { return mean(x[0], {0, 2}); }},
    {"mean/negative_keepdim", {{{2, 3, 4}}}, [](X x) { return mean(x[0], {-2}, true); }},
    {"max/all", {{{3, 4}}}, [](X x) { return max(x[0]); }},
    {"max/dim1", {{{3, 4}}}, [](X x) { return max(x[0], {1}); }},
    {"max/dim0_keepdim", {{{3, 4}}}, [](X x) { return max(x[0], {0}, true); }},
    {"max/nonadjacent", {{{2, 3, 4}}}, [](X x) { return max(x[0], {0, 2}); }},
    {"max/middle_negative", {{{2, 3, 4}}}, [](X x) { return max(x[0], {-2}); }},
    no_grad({"argmax/dim1", {{{3, 5}}}, [](X x) { return argmax(x[0], 1); }}),
    no_grad({"argmax/middle_keepdim", {{{2, 4, 3}}}, [](X x) { return argmax(x[0], -2, true); }}),
    {"var/all", {{{3, 4}}}, [](X x) { return var(x[0]); }},
    {"var/dim1", {{{3, 5}}}, [](X x) { return var(x[0], {1}); }},
    {"var/nonadjacent_biased_keepdim", {{{2, 3, 4}}}, [](X x) { return var(x[0], {0, 2}, 0, true); }},
    {"var/correction2_negative", {{{2, 3, 5}}}, [](X x) { return var(x[0], {-1}, 2); }},
});

// ---- softmax -----------------------------------------------------------------------------------
SADANET_OP_CASES({
    {"softmax/dim0", {{{3, 4}}}, [](X x) { return softmax(x[0], 0); }},
    {"softmax/dim1", {{{3, 4}}}, [](X x) { return softmax(x[0], 1); }},
    {"softmax/last_3d", {{{2, 3, 4}}}, [](X x) { return softmax(x[0], -1); }},
    {"softmax/middle_3d", {{{2, 3, 4}}}, [](X x) { return softmax(x[0], 1); }},
    {"softmax/large_logits", {{{2, 5}}}, [](X x) { return softmax(x[0] * 30.0 + 100.0, 1); }},
    {"log_softmax/dim0", {{{3, 4}}}, [](X x) { return log_softmax(x[0], 0); }},
    {"log_softmax/dim1", {{{3, 4}}}, [](X x) { return log_softmax(x[0], 1); }},
    {"log_softmax/middle_3d", {{{2, 3, 4}}}, [](X x) { return log_softmax(x[0], -2); }},
});

// ---- losses ------------------------------------------------------------------------------------
const InputSpec kLogits{{4, 5}};
const InputSpec kWeight5{{5}, Gen::positive, false};
SADANET_OP_CASES({
    {"cross_entropy/mean", {kLogits, kIdx5_4}, [](X x) { return cross_entropy(x[0], x[1]); }},
    {"cross_entropy/sum", {kLogits, kIdx5_4},
     [](X x) { return cross_entropy(x[0], x[1], Tensor(), Reduction::sum); }},
    {"cross_entropy/none", {kLogits, kIdx5_4},
     [](X x) { return cross_entropy(x[0], x[1], Tensor(), Reduction::none); }},
    {"cross_entropy/weighted_mean", {kLogits, kIdx5_4, kWeight5},
     [](X x) { return cross_entropy(x[0], x[1], x[2]); }},
    {"cross_entropy/weighted_sum", {kLogits, kIdx5_4, kWeight5},
     [](X x) { return cross_entropy(x[0], x[1], x[2], Reduction::sum); }},
    {"cross_entropy/weighted_none", {kLogits, kIdx5_4, kWeight5},
     [](X x) { return cross_entropy(x[0], x[1], x[2], Reduction::none); }},
    // 3 classes, 8 targets: class 1 is ignored; the chance that all 8 are 1 is 1.5e-4.
    {"cross_entropy/ignore_index", {{{8, 3}}, {{8}, Gen::index, false, 3}},
     [](X x) { return cross_entropy(x[0], x[1], Tensor(), Reduction::mean, 1); }},
    {"cross_entropy/weighted_ignore_index", {{{8, 3}}, {{8}, Gen::index, false, 3}, {{3}, Gen::positive, false}},
     [](X x) { return cross_entropy(x[0], x[1], x[2], Reduction::mean, 1); }},
    {"cross_entropy/spatial", {{{2, 3, 2, 2}}, {{2, 2, 2}, Gen::index, false, 3}},
     [](X x) { return cross_entropy(x[0], x[1]); }},
    {"cross_entropy/unbatched", {{{5}}, {{}, Gen::index, false, 5}}, [](X x) { return cross_entropy(x[0], x[1]); }},
    {"nll_loss/mean", {kLogits, kIdx5_4}, [](X x) { return nll_loss(x[0], x[1]); }},
    {"nll_loss/weighted_none", {kLogits, kIdx5_4, kWeight5},
     [](X x) { return nll_loss(x[0], x[1], x[2], Reduction::none); }},
    {"mse_loss/mean", {{{3, 4}}, {{3, 4}}}, [](X x) { return mse_loss(x[0], x[1]); }},
    {"mse_loss/sum", {{{3, 4}}, {{3, 4}}}, [](X x) { return mse_loss(x[0], x[1], Reduction::sum); }},
    {"mse_loss/none", {{{3, 4}}, {{3, 4}}}, [](X x) { return mse_loss(x[0], x[1], Reduction::none); }},
    {"normalize/dim1", {{{3, 4}}}, [](X x) { return normalize(x[0]); }},
    {"normalize/dim0", {{{3, 4}}}, [](X x) { return normalize(x[0], 0); }},
    {"normalize/last_3d", {{{2, 3, 4}}}, [](X x) { return normalize(x[0], -1); }},
    random_case({"dropout/train", {{{4, 6}}}, [](X x) {
                   Generator g(1234);
                   return dropout(x[0], 0.3, true, &g);
                 }}),
});

// ---- joining and indexing ----------------------------------------------------------------------
SADANET_OP_CASES({
    {"cat/dim0", {{{2, 3}}, {{4, 3}}}, [](X x) { return cat({x[0], x[1]}, 0); }},
    {"cat/dim1_three", {{{3, 1}}, {{3, 4}}, {{3, 2}}}, [](X x) { return cat({x[0], x[1], x[2]}, 1); }},
    {"cat/negative_dim_3d", {{{2, 3, 2}}, {{2, 3, 3}}}, [](X x) { return cat({x[0], x[1]}, -1); }},
    {"cat/same_input_twice", {{{2, 3}}}, [](X x) { return cat({x[0], x[0] * 2.0}, 1); }},
    {"stack/dim0", {{{3, 4}}, {{3, 4}}}, [](X x) { return stack({x[0], x[1]}, 0); }},
    {"stack/last", {{{2, 3}}, {{2, 3}}, {{2, 3}}}, [](X x) { return stack({x[0], x[1], x[2]}, -1); }},
    // Indices repeat (8 draws from 5): the backward must accumulate.
    {"index_select/dim0", {{{5, 3}}, {{8}, Gen::index, false, 5}}, [](X x) { return index_select(x[0], 0, x[1]); }},
    {"index_select/dim1_3d", {{{3, 5, 2}}, {{6}, Gen::index, false, 5}},
     [](X x) { return index_select(x[0], 1, x[1]); }},
    {"index_select/last", {{{3, 4}}, {{5}, Gen::index, false, 4}}, [](X x) { return index_select(x[0], -1, x[1]); }},
    {"gather/dim1", {{{3, 5}}, {{3, 4}, Gen::index, false, 5}}, [](X x) { return gather(x[0], 1, x[1]); }},
    {"gather/dim0", {{{4, 3}}, {{6, 3}, Gen::index, false, 4}}, [](X x) { return gather(x[0], 0, x[1]); }},
    {"gather/smaller_index", {{{4, 5}}, {{2, 3}, Gen::index, false, 5}}, [](X x) { return gather(x[0], 1, x[1]); }},
    {"gather/middle_3d", {{{2, 3, 4}}, {{2, 5, 4}, Gen::index, false, 3}},
     [](X x) { return gather(x[0], -2, x[1]); }},
});

}  // namespace
}  // namespace sadanet::test
