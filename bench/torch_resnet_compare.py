#!/usr/bin/env python3
"""ResNet-50 images/s, sadanet vs PyTorch, in one invocation on the same machine (CPU or CUDA).

For each case (CPU default: inference at batch 1 and 8, a training step at batch 8; CUDA default:
training and inference at batch 96 and 256; a training step is forward, cross-entropy, backward,
Adam) it runs `sadanet bench --json` and then the same step in PyTorch (torchvision's resnet50,
randomly initialised), alternating the two --repeat times and keeping each side's best, and
prints one table with both rates and their ratio.

CPU: torch.set_num_threads(<threads>), host clock around the timed steps (each ends in .item()).
Needs Debian's python3-torch and python3-torchvision (use /usr/bin/python3).

CUDA (--device cuda): PyTorch is timed with CUDA events after --warmup untimed steps, with
torch.backends.cudnn.benchmark on (sadanet picks its cuDNN algorithms by timing them too), in up
to three precisions (--torch-precisions): f32 (TF32 off for cuBLAS and cuDNN), tf32 (TF32 on for
both) and bf16 (torch.autocast bf16, TF32 on for what stays f32). sadanet runs in f32 or tf32
(--sadanet-precisions; tf32 sets SADANET_TF32=1); its own clock is the host's around steps that
each end in .item() (`sadanet bench`). --sides runs one side only (the GPU check runs them as
separate steps), and --jsonl appends one JSON object per measurement to a file.

  /usr/bin/python3 bench/torch_resnet_compare.py --sadanet build/tools/sadanet [--markdown]
  python3 bench/torch_resnet_compare.py --device cuda --sadanet build-gpu/tools/sadanet
"""
import argparse
import contextlib
import json
import os
import subprocess
import sys
import time

from machine_info import cpu_model, machine_load  # bench/machine_info.py

CPU_CASES = [("infer", 1), ("infer", 8), ("train", 8)]
CUDA_CASES = [("train", 96), ("train", 256), ("infer", 96), ("infer", 256)]


def parse_cases(text):
    cases = []
    for item in text.split(","):
        mode, batch = item.strip().split(":")
        if mode not in ("infer", "train"):
            raise SystemExit(f"--cases: mode must be infer or train, got {mode!r}")
        cases.append((mode, int(batch)))
    return cases


def run_sadanet(binary, mode, batch, size, iters, warmup, threads, device, precision, timeout):
    cmd = [binary, "bench", "--model", "resnet50", "--mode", mode, "--batch", str(batch), "--size", str(size),
           "--iters", str(iters), "--warmup", str(warmup), "--device", device, "--json"]
    if threads:
        cmd += ["--threads", str(threads)]
    env = dict(os.environ)
    if device.startswith("cuda"):
        env["SADANET_TF32"] = "1" if precision == "tf32" else "0"
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        tail = (e.stderr or b"")
        tail = tail.decode(errors="replace") if isinstance(tail, bytes) else tail
        return {"error": f"timed out after {timeout} s", "stderr_tail": tail[-2000:], "cmd": " ".join(cmd)}
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        return {"error": f"exit {p.returncode}", "stderr_tail": p.stderr[-2000:], "cmd": " ".join(cmd), "wall_s": wall}
    try:
        r = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": "no JSON on stdout", "stdout_tail": p.stdout[-2000:], "cmd": " ".join(cmd)}
    out = {"images_per_s": r["images_per_s"], "ms_per_step": r.get("ms_per_step"), "wall_s": wall, "cmd": " ".join(cmd)}
    out.update({k: r[k] for k in ("peak_allocated_mib", "reserved_mib") if k in r})  # CUDA memory, when reported
    return out


def set_torch_precision(torch, precision):
    """f32: no TF32 anywhere; tf32 and bf16: TF32 allowed in cuBLAS and cuDNN. Returns the settings read back."""
    tf32 = precision in ("tf32", "bf16")
    mm, conv = torch.backends.cuda.matmul, torch.backends.cudnn
    if hasattr(mm, "fp32_precision") and hasattr(getattr(conv, "conv", None), "fp32_precision"):
        # PyTorch >= 2.9: the new switches (mixing them with allow_tf32 is an error there).
        mm.fp32_precision = "tf32" if tf32 else "ieee"
        conv.conv.fp32_precision = "tf32" if tf32 else "ieee"
        return f"matmul {mm.fp32_precision}, cudnn conv {conv.conv.fp32_precision}"
    mm.allow_tf32 = tf32
    conv.allow_tf32 = tf32
    return f"matmul allow_tf32={mm.allow_tf32}, cudnn allow_tf32={conv.allow_tf32}"


def run_torch(torch, torchvision, mode, batch, size, iters, warmup, device, precision):
    cuda = device.startswith("cuda")
    settings = set_torch_precision(torch, precision) if cuda else "cpu"
    torch.manual_seed(0)
    model = torchvision.models.resnet50().to(device)
    x = torch.randn(batch, 3, size, size, device=device)
    y = torch.randint(0, 1000, (batch,), device=device)
    if precision == "bf16":
        autocast = lambda: torch.autocast(device_type="cuda", dtype=torch.bfloat16)  # noqa: E731
    else:
        autocast = contextlib.nullcontext
    # On the CPU each step ends in .item(), as sadanet's; on the GPU the events do the waiting.
    wait = (lambda t: None) if cuda else (lambda t: t.item())
    if mode == "infer":
        model.eval()

        def step():
            with torch.no_grad(), autocast():
                wait(model(x).sum())
    else:
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=5e-5)

        def step():
            opt.zero_grad()
            with autocast():
                loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            wait(loss)
    for _ in range(warmup):
        step()
    if cuda:
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.reset_peak_memory_stats()
        start.record()
        for _ in range(iters):
            step()
        end.record()
        end.synchronize()
        secs = start.elapsed_time(end) * 1e-3
        peak = torch.cuda.max_memory_allocated() / 2**30
    else:
        t0 = time.perf_counter()
        for _ in range(iters):
            step()
        secs = time.perf_counter() - t0
        peak = None
    del model, x, y
    if cuda:
        torch.cuda.empty_cache()
    out = {"images_per_s": batch * iters / secs, "ms_per_step": 1000.0 * secs / iters, "settings": settings}
    if peak is not None:
        out["peak_gib"] = round(peak, 2)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sadanet", default="build/tools/sadanet", help="path of the sadanet CLI")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (both sides)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="CPU threads (CPU runs)")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--iters", type=int, default=None, help="timed steps per measurement (default 3 CPU, 10 CUDA)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 1 CPU, 3 CUDA)")
    ap.add_argument("--repeat", type=int, default=None,
                    help="alternate sadanet and PyTorch this many times; keep the best (default 2 CPU, 1 CUDA)")
    ap.add_argument("--cases", default="", help="cases like train:96,infer:256 (default by device)")
    ap.add_argument("--only", default="", help="run only these of the default cases, like infer:8 (comma-separated)")
    ap.add_argument("--sides", default="sadanet,torch", help="sadanet, torch or both")
    ap.add_argument("--torch-precisions", default=None, help="f32,tf32,bf16 (default f32 CPU, all three CUDA)")
    ap.add_argument("--sadanet-precisions", default="f32", help="f32 and/or tf32 (CUDA)")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per sadanet run (default none)")
    ap.add_argument("--jsonl", default="", help="append one JSON object per measurement to this file")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()

    cuda = args.device.startswith("cuda")
    iters = args.iters or (10 if cuda else 3)
    warmup = args.warmup if args.warmup is not None else (3 if cuda else 1)
    repeat = args.repeat or (1 if cuda else 2)
    sides = [s for s in args.sides.split(",") if s]
    torch_precs = (args.torch_precisions or ("f32,tf32,bf16" if cuda else "f32")).split(",")
    sada_precs = args.sadanet_precisions.split(",")
    for p in torch_precs + sada_precs:
        if p not in ("f32", "tf32", "bf16"):
            raise SystemExit(f"unknown precision {p!r}")
    if "bf16" in sada_precs:
        raise SystemExit("sadanet has no bf16 mode")
    if not cuda and set(torch_precs + sada_precs) != {"f32"}:
        raise SystemExit("tf32 and bf16 are CUDA precisions")
    cases = parse_cases(args.cases) if args.cases else (CUDA_CASES if cuda else CPU_CASES)
    if args.only:
        wanted = set(args.only.split(","))
        cases = [c for c in cases if f"{c[0]}:{c[1]}" in wanted]

    torch = torchvision = None
    env = {"kind": "env", "device": args.device, "cpu": cpu_model(), "size": args.size, "iters": iters,
           "warmup": warmup, "load_before": machine_load()}
    if "torch" in sides:
        import torch
        import torchvision
        env.update(torch=torch.__version__, torchvision=torchvision.__version__)
        if cuda:
            if not torch.cuda.is_available():
                raise SystemExit("torch: CUDA is not available")
            torch.backends.cudnn.benchmark = True
            env.update(gpu=torch.cuda.get_device_name(0), torch_cuda=torch.version.cuda,
                       cudnn=torch.backends.cudnn.version(), cudnn_benchmark=True)
        else:
            torch.set_num_threads(args.threads)
    if not cuda:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)

    jsonl = open(args.jsonl, "a") if args.jsonl else None

    def emit(rec):
        if jsonl:
            jsonl.write(json.dumps(rec) + "\n")
            jsonl.flush()

    emit(dict(env, sides=sides))
    # Measurements in order: precision outer (f32 first), so a run cut short has the f32 table.
    plan = []
    for side, precs in (("sadanet", sada_precs), ("torch", torch_precs)):
        if side in sides:
            plan += [(side, p) for p in precs]
    order = sorted(set(p for _, p in plan), key=["f32", "tf32", "bf16"].index)
    best = {}
    failures = 0
    for rep in range(repeat):
        for prec in order:
            for mode, batch in cases:
                for side, p in plan:
                    if p != prec:
                        continue
                    label = f"[{rep + 1}/{repeat}] {side} {prec} {mode} batch {batch}"
                    print(f"{label} ...", file=sys.stderr, flush=True)
                    if side == "sadanet":
                        r = run_sadanet(args.sadanet, mode, batch, args.size, iters, warmup,
                                        0 if cuda else args.threads, args.device, prec, args.timeout)
                    else:
                        try:
                            r = run_torch(torch, torchvision, mode, batch, args.size, iters, warmup, args.device, prec)
                        except Exception as e:  # out of memory, say: note it and go on
                            r = {"error": f"{type(e).__name__}: {e}"[:2000]}
                            if cuda:
                                torch.cuda.empty_cache()
                    rec = dict(kind="result", side=side, precision=prec, mode=mode, batch=batch, size=args.size,
                               device=args.device, iters=iters, warmup=warmup, repeat=rep + 1, **r)
                    emit(rec)
                    if "error" in r:
                        failures += 1
                        print(f"    FAILED: {r['error']}\n{r.get('stderr_tail', '')[-800:]}", file=sys.stderr, flush=True)
                        continue
                    print(f"    {r['images_per_s']:.2f} images/s, {r['ms_per_step']:.1f} ms/step", file=sys.stderr,
                          flush=True)
                    key = (side, prec, mode, batch)
                    best[key] = max(best.get(key, 0.0), r["images_per_s"])

    where = env.get("gpu", cpu_model()) + (f", {args.threads} threads" if not cuda else "")
    print(f"{where}, torch {env.get('torch', '-')}, {args.size}x{args.size}; "
          f"before: {env['load_before']}; after: {machine_load()}")
    cols = [(s, p) for s, p in plan]
    if cols == [("sadanet", "f32"), ("torch", "f32")]:
        # The two-column table (the CPU default).
        if args.markdown:
            print("| ResNet-50 | batch | sadanet images/s | PyTorch images/s | sadanet / PyTorch |")
            print("|---|---:|---:|---:|---:|")
        for mode, batch in cases:
            a, b = best.get(("sadanet", "f32", mode, batch)), best.get(("torch", "f32", mode, batch))
            ratio = f"{a / b:.2f}" if a and b else "-"
            fa, fb = (f"{v:.2f}" if v else "-" for v in (a, b))
            if args.markdown:
                print(f"| {mode} | {batch} | {fa} | {fb} | {ratio} |")
            else:
                print(f"{mode:6s} batch {batch:3d}: sadanet {fa:>8s}  torch {fb:>8s} images/s  ratio {ratio:>5s}")
    else:
        head = ["mode", "batch"] + [f"{s} {p}" for s, p in cols]
        ratios = [p for p in ("f32", "tf32") if ("sadanet", p) in cols and ("torch", p) in cols]
        head += [f"ratio {p}" for p in ratios]
        if args.markdown:
            print("| " + " | ".join(head) + " |")
            print("|" + "---|" * 2 + "---:|" * (len(head) - 2))
        else:
            print("  ".join(f"{h:>13s}" for h in head))
        for mode, batch in cases:
            row = [mode, str(batch)]
            for s, p in cols:
                v = best.get((s, p, mode, batch))
                row.append(f"{v:.1f}" if v else "-")
            for p in ratios:
                a, b = best.get(("sadanet", p, mode, batch)), best.get(("torch", p, mode, batch))
                row.append(f"{a / b:.3f}" if a and b else "-")
            print("| " + " | ".join(row) + " |" if args.markdown else "  ".join(f"{c:>13s}" for c in row))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
