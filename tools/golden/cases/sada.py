"""PyTorch twins of tests/op_cases/sada_cases.cpp: SADA's losses written independently with
torch ops (per-anchor loops where that is clearest)."""
import torch
import torch.nn.functional as F

SRC = [0, 0, 1, 1, 2, 2]
LABELS = [1, 0, 1]


def la(z, n, src, image_mean=False):
    zn = F.normalize(z, dim=1)
    total = 0
    counts = {i: src.count(i) for i in range(n)}
    for v, s in enumerate(src):
        d = ((zn[n + v] - zn[s]) ** 2).sum()
        total = total + d / counts[s]
    if image_mean:
        total = total / sum(1 for c in counts.values() if c > 0)
    return total


def disc(p, n, src, tau, each_sample=False):
    z = F.normalize(p, dim=1)
    y = LABELS + [LABELS[s] for s in src]
    m = z.shape[0]
    if each_sample:
        anchors = [(z[i], i) for i in range(m)]
    else:
        anchors = []
        for i in range(n):
            members = [i] + [n + v for v, s in enumerate(src) if s == i]
            anchors.append((z[members].mean(0), i))
    losses = []
    for a, i in anchors:
        cand = [j for j in range(m) if not (each_sample and j == i)]
        pos = [j for j in cand if y[j] == y[i]]
        if not pos:
            continue
        logits = torch.stack([a @ z[j] / tau for j in cand])
        lse = torch.logsumexp(logits, 0)
        losses.append(-sum(a @ z[j] / tau - lse for j in pos) / len(pos))
    return torch.stack(losses).mean()


CASES = {
    "sada/local_alignment": lambda z: la(z, 3, SRC),
    "sada/local_alignment_image_mean": lambda z: la(z, 3, [0, 2, 2, 1, 0, 1], True),
    "sada/disc_view_mean": lambda p: disc(p, 3, SRC, 0.1),
    "sada/disc_view_mean_tau05": lambda p: disc(p, 3, SRC, 0.5),
    "sada/disc_each_sample": lambda p: disc(p, 3, SRC, 0.1, each_sample=True),
}
