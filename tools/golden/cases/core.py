"""PyTorch twins of tests/op_cases/core_cases.cpp."""
CASES = {
    "view/reshape": lambda x: x.reshape(4, -1),
    "view/reshape_noncontig": lambda x: x.t().reshape(2, 6),
    "view/permute": lambda x: x.permute(2, 0, 1),
    "view/transpose": lambda x: x.transpose(0, 1),
    "view/slice_step": lambda x: x[1:7:2],
    "view/slice_negative": lambda x: x[:, -4:-1],
    "view/select": lambda x: x[:, 2],
    "view/expand": lambda x: x.expand(2, 3, 4),
    "view/unsqueeze_squeeze": lambda x: x.unsqueeze(1).squeeze(1).unsqueeze(-1),
    "view/flatten": lambda x: x.flatten(1),
    "copy/clone_of_view": lambda x: x.t().clone(),
    "copy/contiguous": lambda x: x.permute(1, 0).contiguous(),
    "graph/diamond": lambda x: x.t().reshape(12)[0:6] * x.reshape(12)[6:12],
}
