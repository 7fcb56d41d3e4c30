#!/usr/bin/env python3
"""ResNet-50 parity data: a randomly initialised torchvision resnet50 (random BN statistics and
affine parameters, so every BN matters), saved with torch.save in the zip format and in the
legacy (pre-1.6) format, plus inputs and PyTorch's outputs and gradients.

The model is ~100 MB, so nothing here is committed: ctest runs this script into the build
folder (fixture `resnet_golden`) where Debian's python3-torch is installed, and the parity test
skips with a message where it is not. Usage: gen_resnet_golden.py OUT_DIR [--size 64] [--batch 2]
"""
import argparse
import json
import pathlib
import struct
import sys

try:
    import torch
    import torchvision
except ImportError:
    print("python3-torch/python3-torchvision not installed: skipping ResNet-50 goldens "
          "(apt-get install -y python3-torch python3-torchvision)")
    sys.exit(0)


def write_safetensors(path, tensors):
    """Minimal safetensors writer (the safetensors package is not in Debian)."""
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        dtype = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}[t.dtype]
        data = t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--classes", type=int, default=7)
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(20261125)
    torch.set_num_threads(2)

    model = torchvision.models.resnet50(num_classes=args.classes).double()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
                m.num_batches_tracked.fill_(7)
    sd32 = {k: (v.float() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    torch.save(sd32, out / "resnet50_zip.pth")
    torch.save({"state_dict": {"module." + k: v for k, v in sd32.items()}}, out / "resnet50_legacy.pth",
               _use_new_zipfile_serialization=False)

    # Reference in float64 from the float32 weights: the true values that f32 sadanet should reach.
    model.load_state_dict({k: (v.double() if v.is_floating_point() else v) for k, v in sd32.items()})
    x = torch.randn(args.batch, 3, args.size, args.size, dtype=torch.float64).float().double()
    feats = {}
    model.layer4.register_forward_hook(lambda m, i, o: feats.__setitem__("fmap", o))
    res = {"input": x}

    model.eval()
    with torch.no_grad():
        logits = model(x)
    res.update({"eval.logits": logits, "eval.feature_map": feats["fmap"],
                "eval.pooled": feats["fmap"].mean(dim=(2, 3))})

    model.train()
    for p in model.parameters():
        p.grad = None
    logits = model(x)
    r = torch.randn_like(logits)
    (logits * r).sum().backward()
    res.update({"train.logits": logits, "train.feature_map": feats["fmap"],
                "train.pooled": feats["fmap"].mean(dim=(2, 3)), "train.grad_output": r})
    for k, v in model.state_dict().items():
        if "running" in k or "num_batches" in k:
            res["train.after." + k] = v
    for k, p in model.named_parameters():
        res["grad." + k] = p.grad
    write_safetensors(out / "resnet50_golden.safetensors", res)
    print(f"wrote ResNet-50 goldens to {out} (input {args.batch}x3x{args.size}x{args.size})")


if __name__ == "__main__":
    main()
