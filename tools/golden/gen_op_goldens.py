#!/usr/bin/env python3
"""PyTorch golden values for the op table.

Reads the inputs written by `sadanet_golden_inputs` (JSON on stdin or a path), evaluates each
case's PyTorch twin from tools/golden/cases/*.py in float64 on those exact (f32-rounded) inputs,
runs backward with the given upstream gradient, and writes tests/golden/ops.json.
Needs Debian's python3-torch (CPU). Usage: see regen.sh.
"""
import importlib.util
import json
import pathlib
import sys

import torch

HERE = pathlib.Path(__file__).resolve().parent


def load_cases():
    cases = {}
    for path in sorted((HERE / "cases").glob("*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        for name, fn in mod.CASES.items():
            if name in cases:
                sys.exit(f"duplicate PyTorch case {name} in {path}")
            cases[name] = fn
    return cases


def to_torch(j):
    if j["dtype"] in ("i64", "i32"):
        return torch.tensor(j["data"], dtype=torch.int64).reshape(j["shape"])
    return torch.tensor(j["data"], dtype=torch.float64).reshape(j["shape"])


def to_json(t):
    t = t.detach()
    if t.dtype in (torch.int64, torch.int32):
        return {"shape": list(t.shape), "dtype": "i64", "data": t.reshape(-1).tolist()}
    return {"shape": list(t.shape), "dtype": "f64", "data": t.reshape(-1).double().tolist()}


def main():
    src = open(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] != "-" else sys.stdin
    out_path = sys.argv[2] if len(sys.argv) > 2 else str(HERE.parent.parent / "tests/golden/ops.json")
    inputs = json.load(src)["cases"]
    twins = load_cases()
    missing = sorted(set(inputs) - set(twins))
    if missing:
        sys.exit("no PyTorch twin for: " + ", ".join(missing))
    result = {"generator": "tools/golden/gen_op_goldens.py", "torch": torch.__version__, "cases": {}}
    for name, case in sorted(inputs.items()):
        xs = []
        for j in case["inputs"]:
            t = to_torch(j)
            if j["grad"]:
                t.requires_grad_(True)
            xs.append(t)
        y = twins[name](*xs)
        entry = {"inputs": [{k: v for k, v in j.items() if k != "grad"} for j in case["inputs"]],
                 "output": to_json(y), "grad_output": case["grad_output"], "grads": []}
        if case["check_grad"]:
            y.backward(to_torch(case["grad_output"]))
        for t in xs:
            entry["grads"].append(to_json(t.grad) if case["check_grad"] and t.grad is not None else None)
        result["cases"][name] = entry
    with open(out_path, "w") as f:
        json.dump(result, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {len(result['cases'])} cases to {out_path}")


if __name__ == "__main__":
    main()
