#!/usr/bin/env python3
"""The summary of a tools/gpu/check.sh run, from its log folder (standard library only).

  python3 tools/gpu/summarize.py LOGDIR        (check.sh runs it; also works on an unpacked logs.tar.gz)

Prints the kernel table first, then failing steps' last log lines, the key figures, and the
steps (status, wall seconds) last. Key figures: CUDA test counts per ctest
pass, the sanitizers' verdicts, the copy and cuBLAS ceilings, the kernels against them, and
ResNet-50 images/s of sadanet and PyTorch with their ratios.
"""
import glob
import json
import os
import re
import statistics
import sys
import xml.etree.ElementTree as ET


def read(path, default=""):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return default


def steps(logdir):
    rows = []
    for line in read(os.path.join(logdir, "steps.tsv")).splitlines()[1:]:
        parts = (line.split("\t") + [""] * 5)[:5]
        rows.append(dict(zip(["step", "status", "wall", "limit", "note"], parts)))
    return rows


def step_log(logdir, name):
    hits = sorted(glob.glob(os.path.join(logdir, f"[0-9][0-9]_{name}.log")))
    return read(hits[-1]) if hits else ""


# ---- ctest ------------------------------------------------------------------------------------------

def ctest_counts(logdir, name):
    """(run, passed, failed, skipped, [failed names]) from ctest's JUnit file, else from its log."""
    path = os.path.join(logdir, f"{name}.xml")
    if os.path.exists(path):
        try:
            root = ET.parse(path).getroot()
            cases = root.iter("testcase")
            passed = failed = skipped = 0
            names = []
            for c in cases:
                st = c.get("status", "")
                if st == "run":
                    passed += 1
                elif st in ("notrun", "disabled"):
                    skipped += 1
                else:
                    failed += 1
                    names.append(c.get("name", "?"))
            return passed + failed + skipped, passed, failed, skipped, names
        except ET.ParseError:
            pass
    log = step_log(logdir, name)
    m = re.search(r"(\d+)% tests passed, (\d+) tests failed out of (\d+)", log)
    if not m:
        return None
    failed, total = int(m.group(2)), int(m.group(3))
    names = re.findall(r"^\s*\d+ - (\S+) \(Failed|Timeout|SEGFAULT|Subprocess aborted|Exception\)", log, re.M)
    skipped = len(re.findall(r"\*\*\*Skipped|\(Skipped\)|Not Run", log))
    return total, total - failed - skipped, failed, skipped, names


# ---- sanitizers ------------------------------------------------------------------------------------

def sanitizer_verdict(logdir, tool):
    log = step_log(logdir, tool)
    if not log:
        return None
    parts = []
    m = re.findall(r"ERROR SUMMARY: (\d+) errors?", log)
    if m:
        parts.append(f"{m[-1]} errors")
    m = re.findall(r"RACECHECK SUMMARY: (\d+) hazards? displayed \((\d+) errors?, (\d+) warnings?\)", log)
    if m:
        h, e, w = m[-1]
        parts.append(f"{h} hazards displayed (errors {e}, warnings {w})")
    m = re.findall(r"\[  PASSED  \] (\d+) tests?", log)
    f = re.findall(r"\[  FAILED  \] (\d+) tests?, listed below", log)
    if m or f:
        parts.append(f"gtest {m[-1] if m else 0} passed, {f[-1] if f else 0} failed")
    return ", ".join(parts) or "no summary line in the log"


# ---- Google Benchmark ------------------------------------------------------------------------------

def load_bench_json(path):
    """The benchmarks of a Google Benchmark JSON file, repairing one cut off mid-run."""
    text = read(path)
    if not text.strip():
        return []
    try:
        return json.loads(text).get("benchmarks", [])
    except ValueError:
        pass
    # Cut off: keep the complete objects of the "benchmarks" array.
    start = text.find('"benchmarks"')
    if start < 0:
        return []
    body = text[text.find("[", start) + 1:]
    out = []
    dec = json.JSONDecoder()
    i = 0
    while True:
        while i < len(body) and body[i] in " \t\r\n,":
            i += 1
        if i >= len(body) or body[i] != "{":
            break
        try:
            obj, i = dec.raw_decode(body, i)
        except ValueError:
            break
        out.append(obj)
    return out


def bench_results(logdir):
    rows = []
    order = ["ceilings", "memory", "gemm", "conv_cudnn", "conv_implicit_gemm"]
    rank = lambda p: (order.index(g) if (g := os.path.basename(p)[6:-5]) in order else len(order), p)  # noqa: E731
    for path in sorted(glob.glob(os.path.join(logdir, "bench_*.json")), key=rank):
        rows += [b for b in load_bench_json(path) if b.get("run_type", "iteration") == "iteration"]
    return rows


def fmt(v, spec=".1f"):
    return "-" if v is None else format(v, spec)


def kernel_table(rows):
    lines = [f"{'benchmark':58s} {'ms':>9s} {'GB/s':>8s} {'%ceil':>6s} {'TFLOP/s':>8s} {'%tf32':>6s}"]
    for b in rows:
        ms = b.get("real_time")
        if b.get("time_unit") == "us" and ms is not None:
            ms /= 1e3
        elif b.get("time_unit") == "ns" and ms is not None:
            ms /= 1e6
        elif b.get("time_unit") == "s" and ms is not None:
            ms *= 1e3
        name = b.get("name", "?").replace("/manual_time", "")
        err = "  ERROR: " + b["error_message"] if b.get("error_occurred") else ""
        lines.append(f"{name[:58]:58s} {fmt(ms, '.3f'):>9s} {fmt(b.get('GB/s'), '.0f'):>8s} {fmt(b.get('%ceil')):>6s} "
                     f"{fmt(b.get('TFLOP/s'), '.2f'):>8s} {fmt(b.get('%tf32')):>6s}{err}")
    return lines


def bench_key_figures(rows):
    by = {b.get("name", "").replace("/manual_time", ""): b for b in rows}
    copy = by.get("Ceiling/MemcpyD2D_1GiB", {}).get("GB/s")
    bf16 = by.get("Ceiling/CublasGemm8192_bf16", {}).get("TFLOP/s")
    tf32 = by.get("Ceiling/CublasGemm8192_tf32", {}).get("TFLOP/s")
    # Ceilings are also attached to every kernel's counters: use them if the ceiling runs are missing.
    for b in rows:
        copy = copy or b.get("ceil_GB/s")
        bf16 = bf16 or b.get("ceil_bf16")
        tf32 = tf32 or b.get("ceil_tf32")
    lines = [f"copy D2D 1 GiB (read + write): {fmt(copy, '.0f')} GB/s; cuBLAS 8192^3: bf16 {fmt(bf16)} TFLOP/s, "
             f"TF32 {fmt(tf32)} TFLOP/s"]
    groups = {}
    for name, b in by.items():
        if name.startswith("Ceiling/"):
            continue
        g = "/".join(name.split("/")[:3]) if name.startswith("Conv/") else name.split("/")[0]
        if "%ceil" in b:
            groups.setdefault(("mem", "memory-bound"), []).append((b["%ceil"], name))
        elif "%tf32" in b:
            groups.setdefault(("flop", g), []).append((b["%tf32"], name))
    for (kind, g), vals in sorted(groups.items()):
        vals.sort()
        unit = "% of copy" if kind == "mem" else "% of cuBLAS TF32"
        lines.append(f"  {g}: {len(vals)} kernels, median {statistics.median(v for v, _ in vals):.1f} {unit}, "
                     f"lowest {vals[0][0]:.1f} ({vals[0][1]})")
    errs = [n for n, b in by.items() if b.get("error_occurred")]
    if errs:
        lines.append(f"  {len(errs)} benchmarks reported errors: {', '.join(errs[:6])}{' ...' if len(errs) > 6 else ''}")
    return lines


# ---- ResNet-50 --------------------------------------------------------------------------------------

def resnet(logdir):
    recs = []
    for line in read(os.path.join(logdir, "resnet.jsonl")).splitlines():
        try:
            recs.append(json.loads(line))
        except ValueError:
            pass
    res = [r for r in recs if r.get("kind") == "result"]
    if not res:
        return []
    best, errors = {}, []
    for r in res:
        key = (r["side"], r["precision"], r["mode"], r["batch"])
        if "error" in r:
            errors.append(f"{r['side']} {r['precision']} {r['mode']} {r['batch']}: {r['error']}")
            continue
        best[key] = max(best.get(key, 0.0), r["images_per_s"])
    cases = []
    for r in res:
        c = (r["mode"], r["batch"])
        if c not in cases:
            cases.append(c)
    env = next((r for r in recs if r.get("kind") == "env" and "torch" in r), {})
    size = res[0].get("size", 224)
    lines = [f"ResNet-50 images/s at {size}x{size} (torch {env.get('torch', '-')}, cuDNN {env.get('cudnn', '-')}, "
             f"cudnn.benchmark on; sadanet tf32 = SADANET_TF32=1)"]
    head = ["mode", "batch", "sadanet f32", "sadanet tf32", "torch f32", "torch tf32", "torch bf16",
            "s/t f32", "s/t tf32", "s best/t bf16"]
    lines.append(" ".join(f"{h:>13s}" for h in head))
    for mode, batch in cases:
        g = lambda s, p: best.get((s, p, mode, batch))  # noqa: E731
        sf, st, tf, tt, tb = g("sadanet", "f32"), g("sadanet", "tf32"), g("torch", "f32"), g("torch", "tf32"), g("torch", "bf16")
        sb = max([v for v in (sf, st) if v] or [0]) or None
        ratio = lambda a, b: f"{a / b:.3f}" if a and b else "-"  # noqa: E731
        row = [mode, str(batch), fmt(sf), fmt(st), fmt(tf), fmt(tt), fmt(tb), ratio(sf, tf), ratio(st, tt), ratio(sb, tb)]
        lines.append(" ".join(f"{c:>13s}" for c in row))
    for e in errors[:8]:
        lines.append(f"  failed: {e}"[:200])
    return lines


# ---- the whole ---------------------------------------------------------------------------------------

def main():
    logdir = sys.argv[1]
    run = dict(kv.split("=", 1) for kv in read(os.path.join(logdir, "run.env")).split() if "=" in kv)
    rows = steps(logdir)
    out = []
    gpu = read(os.path.join(logdir, "gpu.csv")).splitlines()
    host = step_log(logdir, "host_info")
    nvcc = re.search(r"release ([0-9.]+)", host)
    cpus = re.search(r"== CPUs: (\d+)", host)
    out.append(f"sadanet GPU check, mode {run.get('mode', '?')}, build {run.get('build', '?')}: "
               f"{run.get('total_s', '?')} s of a {run.get('budget_s', '?')} s budget")
    out.append(f"GPU: {gpu[1] if len(gpu) > 1 else 'none'}; nvcc {nvcc.group(1) if nvcc else '-'}; "
               f"{cpus.group(1) if cpus else '?'} CPUs")

    # Longest and least urgent first: the console keeps only the end of the output.
    b = bench_results(logdir)
    if b:
        out.append("")
        out.append("CUDA kernels (GPU time per run, L2 flushed; %ceil of the copy, %tf32 of cuBLAS TF32)")
        out += kernel_table(b)
    for r in rows:
        if r["status"].startswith("FAILED"):
            tail = [ln for ln in step_log(logdir, r["step"]).splitlines() if ln.strip()][-6:]
            out.append(f"--- {r['step']} {r['status']}: last lines of its log")
            out += ["    " + ln[:180] for ln in tail]

    out.append("")
    out.append("Key figures")
    for name, label in (("ctest_cuda_sync", "cuda tests, SADANET_CUDA_SYNC=1"),
                        ("ctest_cuda_implicit_gemm", "cuda tests, SADANET_CONV=implicit_gemm")):
        c = ctest_counts(logdir, name)
        if c:
            run_, p, f, s, names = c
            more = f"; failed: {', '.join(names[:12])}{' ...' if len(names) > 12 else ''}" if names else ""
            out.append(f"  {label}: {run_} run, {p} passed, {f} failed, {s} skipped{more}")
        else:
            out.append(f"  {label}: no result")
    for tool in ("memcheck", "racecheck"):
        v = sanitizer_verdict(logdir, tool)
        out.append(f"  compute-sanitizer {tool} (CudaKernels.*): {v or 'not run'}")
    if b:
        out += ["  " + ln for ln in bench_key_figures(b)]
    else:
        out.append("  CUDA kernel benchmarks: not run")
    rn = resnet(logdir)
    if rn:
        out.append("")
        out += rn
    else:
        out.append("  ResNet-50 sadanet vs PyTorch: not run")

    out.append("")
    out.append(f"{'#':>2s} {'step':26s} {'status':52s} {'wall s':>7s} {'limit':>6s}  note")
    for i, r in enumerate(rows, 1):
        out.append(f"{i:2d} {r['step']:26s} {r['status'][:52]:52s} {r['wall']:>7s} {r['limit']:>6s}  {r['note'][:70]}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
