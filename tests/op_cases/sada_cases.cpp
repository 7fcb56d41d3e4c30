// SADA's losses in the op table: gradients by finite differences, values against the PyTorch
// twins in tools/golden/cases/sada.py. Layout: 3 originals, 2 views each (k = 3).
#include "op_table.h"
#include "sadanet/sada/losses.h"

namespace sadanet::test {
namespace {
using X = const std::vector<Tensor>&;
const std::vector<int64_t> kSrc{0, 0, 1, 1, 2, 2};
Tensor labels() { return from_vector<int64_t>({1, 0, 1}, {3}); }
SADANET_OP_CASES({
    {"sada/local_alignment", {{{9, 4, 2, 3}}}, [](X x) { return sada::local_alignment_loss(x[0], 3, kSrc); }},
    {"sada/local_alignment_image_mean", {{{9, 4, 2, 2}}},
     [](X x) { return sada::local_alignment_loss(x[0], 3, {0, 2, 2, 1, 0, 1}, true); }},
    {"sada/disc_view_mean", {{{9, 5}}}, [](X x) { return sada::disc_loss(x[0], labels(), 3, kSrc, 0.1); }},
    {"sada/disc_view_mean_tau05", {{{9, 5}}}, [](X x) { return sada::disc_loss(x[0], labels(), 3, kSrc, 0.5); }},
    {"sada/disc_each_sample", {{{9, 5}}},
     [](X x) { return sada::disc_loss(x[0], labels(), 3, kSrc, 0.1, sada::ContrastiveAnchor::each_sample); }},
});
}  // namespace
}  // namespace sadanet::test
