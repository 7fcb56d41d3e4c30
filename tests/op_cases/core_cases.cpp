// View and copy ops of the core (tensor.h): their gradients route values back to the base.
#include "op_table.h"

namespace sadanet::test {
namespace {
using X = const std::vector<Tensor>&;
SADANET_OP_CASES({
    {"view/reshape", {{{2, 3, 4}}}, [](X x) { return x[0].reshape({4, -1}); }},
    {"view/reshape_noncontig", {{{3, 4}}}, [](X x) { return x[0].t().reshape({2, 6}); }},
    {"view/permute", {{{2, 3, 4}}}, [](X x) { return x[0].permute({2, 0, 1}); }},
    {"view/transpose", {{{3, 5}}}, [](X x) { return x[0].transpose(0, 1); }},
    {"view/slice_step", {{{7, 3}}}, [](X x) { return x[0].slice(0, 1, 7, 2); }},
    {"view/slice_negative", {{{4, 6}}}, [](X x) { return x[0].slice(1, -4, -1); }},
    {"view/select", {{{3, 4, 2}}}, [](X x) { return x[0].select(1, 2); }},
    {"view/expand", {{{3, 1}}}, [](X x) { return x[0].expand({2, 3, 4}); }},
    {"view/unsqueeze_squeeze", {{{3, 4}}}, [](X x) { return x[0].unsqueeze(1).squeeze(1).unsqueeze(-1); }},
    {"view/flatten", {{{2, 3, 2, 2}}}, [](X x) { return x[0].flatten(1); }},
    {"copy/clone_of_view", {{{4, 5}}}, [](X x) { return x[0].t().clone(); }},
    {"copy/contiguous", {{{4, 5}}}, [](X x) { return x[0].permute({1, 0}).contiguous(); }},
    // Shared input used twice: gradients from both paths must add up.
    {"graph/diamond", {{{3, 4}}}, [](X x) { return x[0].t().reshape({12}).slice(0, 0, 6) * x[0].reshape({12}).slice(0, 6, 12); }},
});
}  // namespace
}  // namespace sadanet::test
