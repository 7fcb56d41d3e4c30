"""Loads a `sadanet export --format torchvision` file into torchvision, as a user would, for
tests/test_export.cpp.

usage: torch_run.py MODEL.pth DEPTHS NUM_CLASSES INPUT.f32 N SIZE OUTDIR

DEPTHS is "3,4,6,3" (then torchvision.models.resnet50(num_classes=C)) or another list of four
stage depths (torchvision.models.resnet.ResNet(Bottleneck, depths, num_classes=C)). The state
dict is read with torch.load(weights_only=True) and loaded with strict=True; the model runs in
eval mode on INPUT.f32 (float32 [N, 3, SIZE, SIZE]). Writes OUTDIR/logits.f32 and
OUTDIR/sadanet.json (the file's archive/sadanet.json record). Exits 77 when torch or
torchvision cannot be imported.
"""
import json
import os
import sys
import zipfile

try:
    import numpy as np
    import torch
    import torchvision
except Exception as e:  # noqa: BLE001 - any import failure means "not available here"
    print(f"SKIP: torch/torchvision not importable under {sys.executable}: {e}")
    sys.exit(77)


def main():
    path, depths, classes = sys.argv[1], [int(d) for d in sys.argv[2].split(",")], int(sys.argv[3])
    inputs, n, size, outdir = sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
    torch.set_num_threads(2)
    if depths == [3, 4, 6, 3]:
        model = torchvision.models.resnet50(num_classes=classes)
    else:
        from torchvision.models.resnet import Bottleneck, ResNet

        model = ResNet(Bottleneck, depths, num_classes=classes)
    state = torch.load(path, weights_only=True)
    model.load_state_dict(state, strict=True)
    model.eval()
    x = torch.from_numpy(np.fromfile(inputs, dtype="<f4").reshape(n, 3, size, size))
    with torch.no_grad():
        logits = model(x)
    logits.numpy().astype("<f4").tofile(os.path.join(outdir, "logits.f32"))
    with zipfile.ZipFile(path) as z, open(os.path.join(outdir, "sadanet.json"), "wb") as f:
        f.write(z.read("archive/sadanet.json"))
    print("torch", torch.__version__, "torchvision", torchvision.__version__, "loaded", len(state),
          "tensors strictly; logits", list(logits.shape))


if __name__ == "__main__":
    main()
