#!/usr/bin/env python3
"""Decodes images with PIL for tests/test_image_pil.cpp: reads a list of paths (one a line) and
writes, for the i-th, OUT/i.rgb (raw 8-bit RGB rows, PIL's convert("RGB")) and OUT/i.txt
("width height"), or OUT/i.err with PIL's message when it cannot decode the file.

usage: pil_decode.py LIST OUT
"""
import os
import sys

from PIL import Image


def main():
    listing, out = sys.argv[1], sys.argv[2]
    with open(listing, encoding="utf-8") as f:
        paths = [line.rstrip("\n") for line in f if line.strip()]
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as im:
                rgb = im.convert("RGB")
                data = rgb.tobytes()
                w, h = rgb.size
        except Exception as e:  # noqa: BLE001 - the test wants the reason, whatever it is
            with open(os.path.join(out, f"{i}.err"), "w", encoding="utf-8") as f:
                f.write(f"{type(e).__name__}: {e}\n")
            continue
        with open(os.path.join(out, f"{i}.rgb"), "wb") as f:
            f.write(data)
        with open(os.path.join(out, f"{i}.txt"), "w", encoding="utf-8") as f:
            f.write(f"{w} {h}\n")


if __name__ == "__main__":
    main()
