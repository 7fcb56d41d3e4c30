#!/usr/bin/env python3
"""Writes the weight-loading fixtures under tests/golden/io/ (read by tests/test_pth.cpp,
tests/test_safetensors.cpp and the fuzzers as their seed corpus).

One small state_dict (every dtype, a transposed tensor, views with storage offsets over one shared
storage, an nn.Parameter, an int64 num_batches_tracked, an empty tensor) is saved by torch.save in
the layouts sadanet must read; expected.json holds its values. The safetensors file is written by
the tiny writer below (the `safetensors` package is not a dependency). The evil_* files are
pickles that name os.system / eval: the loader must refuse them by name without running anything.
Run with Debian's python3-torch:
    /usr/bin/python3 tools/golden/gen_io_fixtures.py [--out tests/golden/io]
"""
import argparse
import collections
import json
import os
import pickle
import struct
import zipfile

import torch

LEGACY_MAGIC = 0x1950a86a20f9469cfc6c  # torch.serialization.MAGIC_NUMBER
LEGACY_PROTOCOL = 1001
# The evil pickles would create this file if anything ever executed them; the tests check it stays absent.
PWNED_MARKER = "/tmp/sadanet_io_fixture_pwned"

SADANET_DTYPE = {torch.float32: "f32", torch.float64: "f64", torch.float16: "f16",
                 torch.bfloat16: "bf16", torch.int32: "i32", torch.int64: "i64",
                 torch.uint8: "u8", torch.bool: "u8"}  # sadanet has no bool: it loads as u8 0/1
SAFETENSORS_DTYPE = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16",
                     torch.bfloat16: "BF16", torch.int32: "I32", torch.int64: "I64",
                     torch.uint8: "U8"}


def make_state_dict():
    g = torch.Generator().manual_seed(20240601)
    base = torch.randn(3, 4, generator=g)
    sd = collections.OrderedDict()
    sd["conv.weight"] = torch.randn(2, 1, 2, 2, generator=g)
    sd["fc.weight"] = torch.randn(3, 4, generator=g).t()  # non-contiguous: shape (4, 3), strides (1, 4)
    sd["shared.base"] = base                              # these three share one storage
    sd["shared.row"] = base[1]                            # storage offset 4
    sd["shared.window"] = base[1:, 1:3]                   # storage offset 5, strides (4, 1)
    sd["head.bias"] = torch.nn.Parameter(torch.randn(3, generator=g))  # _rebuild_parameter
    sd["f64"] = torch.randn(2, generator=g, dtype=torch.float64)
    sd["f16"] = torch.randn(3, generator=g).half()
    sd["bf16"] = torch.randn(2, 2, generator=g).bfloat16()
    sd["i32"] = torch.tensor([[1, -2], [3, 2**31 - 1]], dtype=torch.int32)
    sd["u8"] = torch.tensor([0, 1, 128, 255], dtype=torch.uint8)
    sd["mask"] = torch.tensor([True, False, True])
    sd["empty"] = torch.zeros(0, 3)
    sd["bn.num_batches_tracked"] = torch.tensor(7)        # int64, 0-dim
    return sd


def expected_entry(t):
    t = t.detach()
    dtype = SADANET_DTYPE[t.dtype]
    if t.dtype in (torch.float16, torch.bfloat16, torch.bool):
        t = t.float()  # exact: every f16/bf16 value is a float
    return {"dtype": dtype, "shape": list(t.shape), "values": t.reshape(-1).tolist()}


def write_safetensors(path, tensors, metadata):
    """The format: u64 little-endian header length, a JSON header padded with spaces to a
    multiple of 8, then the raw little-endian tensor bytes in header order."""
    header = {"__metadata__": metadata} if metadata else {}
    blobs, offset = [], 0
    for name, t in tensors.items():
        t = t.contiguous()
        data = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        header[name] = {"dtype": SAFETENSORS_DTYPE[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def write_zip(entries, dst, zip64):
    """A stored (uncompressed) zip of (name, bytes) pairs. With zip64, every entry carries ZIP64
    extra fields and the archive ends in a ZIP64 end of central directory record (what torch
    writes for files over 4 GiB), so a small fixture exercises those paths."""
    out, central = bytearray(), bytearray()
    big = 0xFFFFFFFF
    for name, data in entries:
        crc, n, off = zipfile.crc32(data), len(data), len(out)
        raw = name.encode()
        local_extra = struct.pack("<HHQQ", 1, 16, n, n) if zip64 else b""
        sizes = (big, big) if zip64 else (n, n)
        out += struct.pack("<IHHHHHIIIHH", 0x04034b50, 45, 0, 0, 0, 0x21, crc, *sizes, len(raw),
                           len(local_extra)) + raw + local_extra + data
        cd_extra = struct.pack("<HHQQQ", 1, 24, n, n, off) if zip64 else b""
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 45, 45, 0, 0, 0, 0x21, crc, *sizes,
                               len(raw), len(cd_extra), 0, 0, 0, 0, big if zip64 else off) + raw + cd_extra
    cd_offset = len(out)
    out += central
    if zip64:
        eocd64 = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064b50, 44, 45, 45, 0, 0, len(entries), len(entries),
                           len(central), cd_offset)
        out += struct.pack("<IIQI", 0x07064b50, 0, eocd64, 1)
        out += struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 0xFFFF, 0xFFFF, big, big, 0)
    else:
        out += struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, len(entries), len(entries), len(central),
                           cd_offset, 0)
    with open(dst, "wb") as f:
        f.write(out)


def zip_records(path):
    with zipfile.ZipFile(path) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


class EvilSystem:
    def __reduce__(self):
        return (os.system, (f"touch {PWNED_MARKER}",))


class EvilEval:
    def __reduce__(self):
        return (eval, (f"__import__('os').system('touch {PWNED_MARKER}')",))


def write_legacy_with(path, payload, protocol):
    """The pre-1.6 torch.save layout around an arbitrary pickle: magic, protocol version, sys_info,
    the object, then the (here empty) list of storage keys."""
    with open(path, "wb") as f:
        pickle.dump(LEGACY_MAGIC, f, protocol=2)
        pickle.dump(LEGACY_PROTOCOL, f, protocol=2)
        pickle.dump(dict(protocol_version=LEGACY_PROTOCOL, little_endian=True,
                         type_sizes=dict(short=2, int=4, long=4)), f, protocol=2)
        pickle.dump(payload, f, protocol=protocol)
        pickle.dump([], f, protocol=2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "../../tests/golden/io"))
    out = os.path.abspath(ap.parse_args().out)
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)

    sd = make_state_dict()
    torch.save(sd, p("plain_zip.pth"))
    torch.save(sd, p("plain_zip_proto4.pth"), pickle_protocol=4)  # FRAME, MEMOIZE, STACK_GLOBAL
    torch.save(sd, p("plain_legacy.pth"), _use_new_zipfile_serialization=False)
    torch.save({"epoch": 3, "arch": "resnet50", "best_acc": 0.875, "lrs": [0.1, 0.01],
                "state_dict": sd}, p("nested_state_dict.pth"))
    module_sd = collections.OrderedDict(("module." + k, v) for k, v in sd.items())
    torch.save({"model": module_sd, "step": 10}, p("module_prefix_legacy.pth"),
               _use_new_zipfile_serialization=False)
    write_zip(zip_records(p("plain_zip.pth")), p("plain_zip64.pth"), zip64=True)
    # A big-endian writer would record it in <archive>/byteorder (torch >= 2.1); sadanet refuses.
    torch.save({"x": torch.ones(2)}, p("byteorder_big.pth"))
    write_zip([(n.replace("byteorder_big/", "archive/"), d) for n, d in zip_records(p("byteorder_big.pth"))]
              + [("archive/byteorder", b"big")], p("byteorder_big.pth"), zip64=False)
    torch.save({"weight": EvilSystem()}, p("evil_os_system.pth"))
    write_legacy_with(p("evil_eval_legacy.pth"), {"weight": EvilEval()}, protocol=4)

    # Every torch layout must load back to the same values in torch itself.
    for name in ["plain_zip.pth", "plain_zip_proto4.pth", "plain_legacy.pth", "plain_zip64.pth"]:
        got = torch.load(p(name))
        assert list(got) == list(sd) and all(torch.equal(got[k], sd[k]) for k in sd), name
    assert torch.equal(torch.load(p("nested_state_dict.pth"))["state_dict"]["fc.weight"], sd["fc.weight"])

    st = collections.OrderedDict()
    g = torch.Generator().manual_seed(7)
    st["weight"] = torch.randn(2, 3, generator=g)
    st["scalar"] = torch.tensor(2.5)
    st["f64"] = torch.randn(2, generator=g, dtype=torch.float64)
    st["f16"] = torch.randn(3, generator=g).half()
    st["bf16"] = torch.randn(2, 2, generator=g).bfloat16()
    st["i64"] = torch.tensor([-1, 0, 2**40], dtype=torch.int64)
    st["i32"] = torch.tensor([7, -7], dtype=torch.int32)
    st["u8"] = torch.tensor([3, 250, 0, 1, 9], dtype=torch.uint8)
    st["empty"] = torch.zeros(0, 4)
    st_meta = {"format": "pt", "source": "gen_io_fixtures.py"}
    write_safetensors(p("tiny.safetensors"), st, st_meta)

    expected = {
        "pwned_marker": PWNED_MARKER,
        "state_dict": [[k, expected_entry(v)] for k, v in sd.items()],
        "safetensors": {"tensors": [[k, expected_entry(v)] for k, v in st.items()], "metadata": st_meta},
    }
    with open(p("expected.json"), "w") as f:  # one tensor per line keeps diffs readable
        f.write(json.dumps(expected, separators=(",", ":")).replace("],[", "],\n[") + "\n")


if __name__ == "__main__":
    main()
