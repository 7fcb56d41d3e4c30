#!/usr/bin/env python3
"""ResNet-50 images/s, sadanet vs PyTorch (CPU), in one invocation on the same machine.

For each case (inference at batch 1 and 8, a training step at batch 8: forward, cross-entropy,
backward, Adam) it runs `sadanet bench --json` and then the same step in PyTorch (torchvision's
resnet50, randomly initialised, torch.set_num_threads(<threads>)), alternating the two --repeat
times and keeping each side's best, and prints one table with both rates and their ratio.
Needs Debian's python3-torch and python3-torchvision (use /usr/bin/python3).

  /usr/bin/python3 bench/torch_resnet_compare.py --sadanet build/tools/sadanet [--markdown]
"""
import argparse
import json
import os
import subprocess
import sys
import time

import torch
import torchvision

from machine_info import cpu_model, machine_load  # bench/machine_info.py

CASES = [("infer", 1), ("infer", 8), ("train", 8)]


def run_sadanet(binary, mode, batch, size, iters, threads):
    cmd = [binary, "bench", "--model", "resnet50", "--mode", mode, "--batch", str(batch), "--size", str(size),
           "--iters", str(iters), "--warmup", "1", "--threads", str(threads), "--json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["images_per_s"]


def run_torch(mode, batch, size, iters):
    torch.manual_seed(0)
    model = torchvision.models.resnet50()
    x = torch.randn(batch, 3, size, size)
    y = torch.randint(0, 1000, (batch,))
    if mode == "infer":
        model.eval()

        def step():
            with torch.no_grad():
                model(x).sum().item()
    else:
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=5e-5)

        def step():
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            loss.item()
    step()  # warm-up, as sadanet bench --warmup 1
    t0 = time.perf_counter()
    for _ in range(iters):
        step()
    return batch * iters / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sadanet", default="build/tools/sadanet", help="path of the sadanet CLI")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--iters", type=int, default=3, help="timed steps per measurement")
    ap.add_argument("--repeat", type=int, default=2, help="alternate sadanet and PyTorch this many times; keep the best")
    ap.add_argument("--only", default="", help="run only cases like infer:8 (comma-separated)")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    cases = CASES
    if args.only:
        wanted = set(args.only.split(","))
        cases = [c for c in CASES if f"{c[0]}:{c[1]}" in wanted]
    load_before = machine_load()
    best = {}
    for rep in range(args.repeat):
        for mode, batch in cases:
            print(f"[{rep + 1}/{args.repeat}] {mode} batch {batch} ...", file=sys.stderr, flush=True)
            ours = run_sadanet(args.sadanet, mode, batch, args.size, args.iters, args.threads)
            theirs = run_torch(mode, batch, args.size, args.iters)
            a, b = best.get((mode, batch), (0.0, 0.0))
            best[(mode, batch)] = (max(a, ours), max(b, theirs))
            print(f"    sadanet {ours:.2f} images/s, torch {theirs:.2f} images/s", file=sys.stderr, flush=True)
    print(f"{cpu_model()}, {args.threads} threads, torch {torch.__version__}, {args.size}x{args.size}; "
          f"before: {load_before}; after: {machine_load()}")
    if args.markdown:
        print("| ResNet-50 | batch | sadanet images/s | PyTorch images/s | sadanet / PyTorch |")
        print("|---|---:|---:|---:|---:|")
    for (mode, batch), (a, b) in best.items():
        if args.markdown:
            print(f"| {mode} | {batch} | {a:.2f} | {b:.2f} | {a / b:.2f} |")
        else:
            print(f"{mode:6s} batch {batch:2d}: sadanet {a:8.2f}  torch {b:8.2f} images/s  ratio {a / b:5.2f}")


if __name__ == "__main__":
    main()
