#!/usr/bin/env python3
"""Writes tests/golden/optim.json: parameter trajectories of torch.optim.Adam / AdamW / SGD.

Parameters and gradients come from closed formulas (init_value / grad_value below, mirrored in
tests/test_optim.cpp), so the file holds only each case's settings and the parameters after
every step, in float32. Run with Debian's python3-torch:
    /usr/bin/python3 tools/golden/gen_optim_goldens.py [--out tests/golden/optim.json]
"""
import argparse
import json
import math
import os

import torch

STEPS = 6
SHAPES = [[3, 4], [5]]


def init_value(j, i):
    """Initial element i (row-major) of parameter j."""
    return math.sin(0.7 * i + 1.3 * j + 0.25) * (1.0 + 0.1 * j)


def grad_value(j, i, t):
    """Gradient element i of parameter j at step t (1-based)."""
    return math.cos(0.9 * i + 0.6 * j + 1.7 * t) * (0.5 + 0.25 * t)


# name -> settings. "groups" lists parameter indices and per-group overrides;
# "no_grad" lists [param, step] pairs where that parameter has no gradient (it is skipped).
CASES = {
    "adam/basic": dict(optimizer="Adam", options=dict(lr=1e-2), groups=[dict(params=[0, 1])]),
    "adam/l2_betas_eps": dict(optimizer="Adam",
                              options=dict(lr=5e-2, beta1=0.8, beta2=0.99, eps=1e-3, weight_decay=0.1),
                              groups=[dict(params=[0, 1])]),
    "adamw/decay": dict(optimizer="AdamW", options=dict(lr=2e-2, weight_decay=0.05),
                        groups=[dict(params=[0, 1])]),
    "adam/two_groups": dict(optimizer="Adam", options=dict(lr=1e-2),
                            groups=[dict(params=[0]),
                                    dict(params=[1], lr=3e-3, beta1=0.5, beta2=0.9, weight_decay=0.2)]),
    "adamw/skip_no_grad": dict(optimizer="AdamW", options=dict(lr=1e-2, weight_decay=0.1),
                               groups=[dict(params=[0, 1, 2])],
                               shapes=[[3, 4], [5], [2, 3]],
                               no_grad=[[1, 2], [1, 3], [2, 1], [2, 4]]),
    "sgd/plain": dict(optimizer="SGD", options=dict(lr=0.1), groups=[dict(params=[0, 1])]),
    "sgd/momentum_dampening_decay": dict(optimizer="SGD",
                                         options=dict(lr=0.05, momentum=0.9, dampening=0.1,
                                                      weight_decay=1e-2),
                                         groups=[dict(params=[0, 1])]),
    "sgd/nesterov": dict(optimizer="SGD",
                         options=dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=1e-3),
                         groups=[dict(params=[0, 1])], no_grad=[[1, 3]]),
    "sgd/two_groups": dict(optimizer="SGD", options=dict(lr=0.1, momentum=0.9),
                           groups=[dict(params=[0]), dict(params=[1], lr=0.01, momentum=0.5)]),
}


def torch_group(g, case):
    """A group's overrides as torch takes them (betas as a pair, the other beta inherited)."""
    out = {k: v for k, v in g.items() if k not in ("params", "beta1", "beta2")}
    if "beta1" in g or "beta2" in g:
        o = case["options"]
        out["betas"] = (g.get("beta1", o.get("beta1", 0.9)), g.get("beta2", o.get("beta2", 0.999)))
    return out


def make_optimizer(case, params):
    o = dict(case["options"])
    groups = []
    for g in case["groups"]:
        d = torch_group(g, case)
        d["params"] = [params[j] for j in g["params"]]
        groups.append(d)
    if case["optimizer"] == "SGD":
        return torch.optim.SGD(groups, foreach=False, **o)
    betas = (o.pop("beta1", 0.9), o.pop("beta2", 0.999))
    cls = torch.optim.Adam if case["optimizer"] == "Adam" else torch.optim.AdamW
    return cls(groups, betas=betas, foreach=False, amsgrad=False, **o)


def f32_list(t):
    # 9 significant digits round-trip any float32.
    return [float("%.9g" % v) for v in t.detach().reshape(-1).tolist()]


def run(case):
    shapes = case.get("shapes", SHAPES)
    params = []
    for j, s in enumerate(shapes):
        n = math.prod(s)
        params.append(torch.tensor([init_value(j, i) for i in range(n)], dtype=torch.float32)
                      .reshape(s).requires_grad_(True))
    opt = make_optimizer(case, params)
    skip = {tuple(x) for x in case.get("no_grad", [])}
    trajectory = []
    for t in range(1, STEPS + 1):
        for j, p in enumerate(params):
            if (j, t) in skip:
                p.grad = None
            else:
                p.grad = torch.tensor([grad_value(j, i, t) for i in range(p.numel())],
                                      dtype=torch.float32).reshape(p.shape)
        opt.step()
        trajectory.append([f32_list(p) for p in params])
    return trajectory


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(root, "tests", "golden", "optim.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    cases = {}
    for name, case in CASES.items():
        c = dict(case)
        c.setdefault("shapes", SHAPES)
        c.setdefault("no_grad", [])
        c["trajectory"] = run(case)
        cases[name] = c
    doc = {"torch_version": torch.__version__, "steps": STEPS, "dtype": "f32", "cases": cases}
    # One case per line: small, and a regenerated file diffs case by case.
    lines = [f" {json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in sorted(cases.items())]
    head = {k: v for k, v in doc.items() if k != "cases"}
    with open(args.out, "w") as f:
        f.write(json.dumps(head, sort_keys=True)[:-1] + ', "cases": {\n' + ",\n".join(lines) + "\n}}\n")
    print(f"wrote {len(cases)} cases to {args.out}")


if __name__ == "__main__":
    main()
