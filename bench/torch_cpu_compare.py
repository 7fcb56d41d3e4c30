#!/usr/bin/env python3
"""sadanet vs PyTorch (CPU) at the shapes of bench/bench_cpu_gemm_conv.cpp, in one invocation.

Runs the sadanet benchmark binary (--benchmark_format=json), then the same GEMMs and ResNet-50
convolutions (batch 8) in PyTorch with torch.set_num_threads(<threads>), and prints one table
with both throughputs and their ratio. Needs Debian's python3-torch (use /usr/bin/python3).

  /usr/bin/python3 bench/torch_cpu_compare.py --bench build/bench/sadanet_bench_cpu [--markdown]
"""
import argparse
import json
import os
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
import torch.utils.mkldnn

from machine_info import cpu_model, machine_load  # bench/machine_info.py

# name: (C, O, H, k, stride, pad) -- the same table as kConvShapes in bench_cpu_gemm_conv.cpp.
CONVS = {
    "conv1_7x7_3_64_224_s2": (3, 64, 224, 7, 2, 3),
    "l1_1x1_64_64_56": (64, 64, 56, 1, 1, 0),
    "l1_3x3_64_64_56": (64, 64, 56, 3, 1, 1),
    "l1_1x1_64_256_56": (64, 256, 56, 1, 1, 0),
    "l1_1x1_256_64_56": (256, 64, 56, 1, 1, 0),
    "l2_3x3_128_128_56_s2": (128, 128, 56, 3, 2, 1),
    "l2_1x1_256_512_56_s2": (256, 512, 56, 1, 2, 0),
    "l2_3x3_128_128_28": (128, 128, 28, 3, 1, 1),
    "l3_3x3_256_256_14": (256, 256, 14, 3, 1, 1),
    "l4_3x3_512_512_7": (512, 512, 7, 3, 1, 1),
    "l4_1x1_512_2048_7": (512, 2048, 7, 1, 1, 0),
}
BATCH = 8
# name in the sadanet bench -> (M, N, K) of C = A B.
GEMMS = {f"gemm/cube_{n}": (n, n, n) for n in (256, 512, 1024, 1536, 2048)}
GEMMS.update({
    "gemm/l1_1x1_64_256_56_M256_N3136_K64": (256, 3136, 64),
    "gemm/l1_3x3_64_56_M64_N3136_K576": (64, 3136, 576),
    "gemm/l3_3x3_256_14_M256_N196_K2304": (256, 196, 2304),
    "gemm/l4_3x3_512_7_M512_N49_K4608": (512, 49, 4608),
    "gemm/fc_M8_N1000_K2048": (8, 1000, 2048),
})


def mean_seconds(fn, min_time):
    """Mean wall time per call after one warm-up call, over at least min_time seconds (as Google Benchmark)."""
    fn()
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time and n >= 2:
            return elapsed / n


def run_sadanet(binary, bench_filter):
    out = subprocess.run([binary, "--benchmark_format=json", f"--benchmark_filter={bench_filter}"],
                         check=True, capture_output=True, text=True).stdout
    results = {}
    for b in json.loads(out)["benchmarks"]:
        name = b["name"].split("/min_time")[0]
        if "GFLOP/s" in b:
            results[name] = b["GFLOP/s"]
    return results


def torch_gemm(m, n, k, min_time):
    """GFLOP/s of torch.mm (Debian's torch calls the reference BLAS) and of oneDNN's inner product."""
    a, b = torch.randn(m, k), torch.randn(k, n)
    flops = 2.0 * m * n * k
    mm = flops / mean_seconds(lambda: torch.mm(a, b), min_time) / 1e9
    lin = torch.nn.Linear(k, n, bias=False)
    lin.weight.data = b.t().contiguous()
    ip = torch.utils.mkldnn.to_mkldnn(lin)
    xm = a.to_mkldnn()
    with torch.no_grad():
        onednn = flops / mean_seconds(lambda: ip(xm), min_time) / 1e9
    return mm, onednn


def torch_conv(shape, min_time):
    c, o, h, k, s, p = shape
    ho = (h + 2 * p - k) // s + 1
    x, w = torch.randn(BATCH, c, h, h), torch.randn(o, c, k, k)
    gy = torch.randn(BATCH, o, ho, ho)
    flops = 2.0 * BATCH * o * ho * ho * c * k * k

    def backward(mask):
        return lambda: torch.ops.aten.convolution_backward(gy, x, w, None, [s, s], [p, p], [1, 1], False, [0, 0], 1,
                                                            mask)
    with torch.no_grad():
        fwd = mean_seconds(lambda: F.conv2d(x, w, None, s, p), min_time)
        bwd_in = mean_seconds(backward([True, False, False]), min_time)
        bwd_w = mean_seconds(backward([False, True, False]), min_time)
    return {"conv_fwd": flops / fwd / 1e9, "conv_bwd_input": flops / bwd_in / 1e9,
            "conv_bwd_weight": flops / bwd_w / 1e9}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default="build/bench/sadanet_bench_cpu", help="path of sadanet_bench_cpu")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--min-time", type=float, default=1.0, help="seconds per PyTorch measurement")
    ap.add_argument("--filter", default="", help="only rows whose name contains this")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument("--repeat", type=int, default=1,
                    help="alternate sadanet and PyTorch runs this many times; keep each row's best")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    env_threads = os.environ.get("OMP_NUM_THREADS")
    if env_threads and int(env_threads) != args.threads:
        sys.exit(f"OMP_NUM_THREADS={env_threads} differs from --threads {args.threads}")
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # the sadanet binary uses OpenMP's count

    bench_filter = "peak|gemm|conv"
    if args.filter:
        bench_filter = f"peak|{args.filter}"
    load_before = machine_load()
    ours, theirs = {}, {}  # name -> best GFLOP/s; theirs: (name, torch path) -> best GFLOP/s

    def keep(d, key, value):
        d[key] = max(d.get(key, 0.0), value)

    for rep in range(args.repeat):
        print(f"[{rep + 1}/{args.repeat}] running {args.bench} ...", file=sys.stderr, flush=True)
        for name, g in run_sadanet(args.bench, bench_filter).items():
            keep(ours, name, g)
        for name, (m, n, k) in GEMMS.items():
            if args.filter not in name or name not in ours:
                continue
            print(f"[{rep + 1}/{args.repeat}] torch {name} ...", file=sys.stderr, flush=True)
            mm, onednn = torch_gemm(m, n, k, args.min_time)
            keep(theirs, (name, "oneDNN inner product"), onednn)
            keep(theirs, (name, "torch.mm (Debian: reference BLAS)"), mm)
        for cname, shape in CONVS.items():
            if not any(args.filter in f"{p}/{cname}" for p in ("conv_fwd", "conv_bwd_input", "conv_bwd_weight")):
                continue
            print(f"[{rep + 1}/{args.repeat}] torch {cname} ...", file=sys.stderr, flush=True)
            for pass_name, g in torch_conv(shape, args.min_time).items():
                if f"{pass_name}/{cname}" in ours:
                    keep(theirs, (f"{pass_name}/{cname}", "oneDNN"), g)
    rows = [(name, ours[name], g, label) for (name, label), g in theirs.items()]
    print(f"{cpu_model()}, {args.threads} threads; before: {load_before}; after: {machine_load()}")

    peaks = {k: v for k, v in ours.items() if k.startswith("peak_fp32")}
    if args.markdown:
        print("| benchmark | sadanet GFLOP/s | PyTorch GFLOP/s | PyTorch path | sadanet / PyTorch |")
        print("|---|---:|---:|---|---:|")
        for k, v in peaks.items():
            print(f"| {k} (measured FMA loop, no memory traffic) | {v:.1f} | | | |")
        for name, a, b, label in rows:
            print(f"| {name} | {a:.1f} | {b:.1f} | {label} | {a / b:.2f} |")
    else:
        for k, v in peaks.items():
            print(f"{k:50s} {v:8.1f} GFLOP/s (measured FMA loop, no memory traffic)")
        print(f"{'benchmark':50s} {'sadanet':>8s} {'torch':>8s}  {'ratio':>6s}  torch path")
        for name, a, b, label in rows:
            print(f"{name:50s} {a:8.1f} {b:8.1f}  {a / b:6.2f}  {label}")


if __name__ == "__main__":
    main()
