#!/usr/bin/env bash
# CLI test (ctest cli.hostile_images): `sadanet train`, `eval` and `augment` on a synthetic
# dataset holding the red-team's hostile files must report each one with its reason and go on.
# usage: hostile_images.sh SADANET WORKDIR
set -euo pipefail
sadanet=$1
work=$2
rm -rf "$work"
mkdir -p "$work"
fail() { echo "hostile_images: $*" >&2; exit 1; }
expect() {  # expect FILE TEXT: FILE contains TEXT
  grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "$1 lacks: $2"; }
}

for cmd in train protocol eval augment predict; do
  help=$("$sadanet" "$cmd" --help)  # not piped into grep -q, whose early exit would break the pipe
  [[ $help == *--max-pixels* ]] || fail "sadanet $cmd has no --max-pixels"
done

"$sadanet" synth --out "$work/data" --domains 2 --per-class 8 --size 40 --balanced > /dev/null
b=$work/data/synthB/basophil
# A JPEG whose frame header declares 16384 x 16384 (the 18.5 s, 1.7 GB bomb of the report).
printf '\xff\xd8\xff\xc0\x00\x11\x08\x40\x00\x40\x00\x03\x01\x22\x00\x02\x11\x00\x03\x11\x00\xff\xda\x00\x0c\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00\x00\x00\xff\xd9' > "$b/bomb.jpg"
ln -s loop.png "$b/loop.png"  # a link to itself (ELOOP)
ln -s .. "$b/up"              # a folder loop

# train (the bomb sits in the target, so the final evaluation may meet it) and eval of all of it:
# 40 images of 41 files, the bomb named with its reason.
"$sadanet" train --data "$work/data" --target synthB --method erm --arch resnet-tiny --steps-erm 2 --batch 4 \
  --size 32 --swad false --out "$work/run" > "$work/train.out" 2> "$work/train.err" || {
  cat "$work/train.out" "$work/train.err" >&2; fail "train failed"; }
expect "$work/train.err" "loop.png (Too many levels of symbolic links)"
"$sadanet" eval --checkpoint "$work/run/final.safetensors" --split all > "$work/eval.out" 2> "$work/eval.err" || {
  cat "$work/eval.out" "$work/eval.err" >&2; fail "eval failed"; }
expect "$work/eval.out" "40 images of 41 files, 1 unreadable skipped"
expect "$work/eval.err" "skipping unreadable image $b/bomb.jpg: the header declares 16384x16384"
expect "$work/eval.err" "loop.png (Too many levels of symbolic links)"
# --max-pixels reaches eval: with 1599 no 40x40 image is readable, so eval refuses to go on.
if "$sadanet" eval --checkpoint "$work/run/final.safetensors" --split all --max-pixels 1599 > "$work/eval2.out" 2>&1; then
  fail "eval --max-pixels 1599 succeeded"
fi
expect "$work/eval2.out" "above the limit of 1599"

# augment over every hostile file of the report.
e=$work/data/synthB/eosinophil
printf '\xff\xd8\xff\xc4\x00\x13\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xd9' > "$e/dht.jpg"
head -c 60 "$e/eosinophil_0000.png" > "$e/trunc.png"
printf 'hello' > "$e/garbage.jpg"
truncate -s 3G "$e/huge.png"  # sparse: refused from its size, never read
"$sadanet" augment --data "$work/data" --out "$work/aug" --no-sheets --size 32 --batch 8 --k 2 \
  > "$work/aug.out" 2> "$work/aug.err" || { cat "$work/aug.out" "$work/aug.err" >&2; fail "augment failed"; }
expect "$work/aug.err" "$b/bomb.jpg: the header declares 16384x16384"
expect "$work/aug.err" "$e/dht.jpg: cannot decode the JPEG (header: Bogus Huffman table definition)"
expect "$work/aug.err" "$e/huge.png: 3221225472 bytes, above the limit of 268435456 bytes"
expect "$work/aug.err" "$e/trunc.png: cannot decode the PNG"
expect "$work/aug.err" "$e/garbage.jpg: not a JPEG, PNG or BMP file"
expect "$work/aug.err" "$b/loop.png: Too many levels of symbolic links"
expect "$work/aug.err" "$b/up: a link back to a folder already read (a symlink loop)"
expect "$work/aug.out" "augmented 80 images (0 degenerate, 5 unreadable"
if grep -qF "()" "$work/aug.err" "$work/eval.err"; then fail "a message with an empty reason"; fi
rm -f "$e/huge.png"
echo "hostile_images: ok"
