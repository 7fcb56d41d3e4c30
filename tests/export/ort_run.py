"""Runs an exported ONNX file in ONNX Runtime for tests/test_export.cpp.

usage: ort_run.py MODEL.onnx INPUT.f32 N OUTDIR

INPUT.f32 holds N images as float32 [N, 3, S, S] (S from the model's input). Writes to OUTDIR:
logits.f32 and probabilities.f32 ([N, C] float32, from one run on the whole batch), logits1.f32
(a run on the first image alone: the batch dimension is dynamic), and info.json (the model's
metadata_props, producer, input and output names and shapes, onnxruntime's version).
"""
import json
import os
import sys

import numpy as np
import onnxruntime as ort


def main():
    model, inputs, n, outdir = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    s = inp.shape[2]
    x = np.fromfile(inputs, dtype="<f4").reshape(n, 3, s, s)
    logits, probs = sess.run(["logits", "probabilities"], {inp.name: x})
    (logits1,) = sess.run(["logits"], {inp.name: x[:1]})
    logits.astype("<f4").tofile(os.path.join(outdir, "logits.f32"))
    probs.astype("<f4").tofile(os.path.join(outdir, "probabilities.f32"))
    logits1.astype("<f4").tofile(os.path.join(outdir, "logits1.f32"))
    meta = sess.get_modelmeta()
    info = {
        "onnxruntime": ort.__version__,
        "producer": meta.producer_name,
        "metadata": meta.custom_metadata_map,
        "inputs": [{"name": i.name, "shape": i.shape, "type": i.type} for i in sess.get_inputs()],
        "outputs": [{"name": o.name, "shape": o.shape, "type": o.type} for o in sess.get_outputs()],
        "logits_shape": list(logits.shape),
    }
    with open(os.path.join(outdir, "info.json"), "w") as f:
        json.dump(info, f)
    print("onnxruntime", ort.__version__, "ran", model, "on", list(x.shape), "->", list(logits.shape))


if __name__ == "__main__":
    main()
