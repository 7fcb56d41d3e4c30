#!/usr/bin/env bash
# The fixture of the "use a trained model" tests: a small run trained the way the README's main
# job trains (resnet-tiny, synthetic domains, ERM here for speed), as a user would, plus a folder
# of cells to classify. Usage: use_model_setup.sh SADANET WORKDIR
# Leaves WORKDIR/run/final.safetensors, WORKDIR/cells/<class>/*.png and WORKDIR/classes.txt.
set -euo pipefail
sadanet=$1
work=$2
rm -rf "$work" && mkdir -p "$work"
"$sadanet" synth --out "$work/data" --domains 2 --per-class 3 --size 48 --balanced >"$work/synth.log"
"$sadanet" train --data "$work/data" --target synthB --method erm --arch resnet-tiny --size 32 --batch 4 \
  --swad false --steps-erm 30 --lr 1e-3 --out "$work/run" >"$work/train.log" 2>&1
cp -r "$work/data/synthB" "$work/cells"
ls "$work/data/synthB" >"$work/classes.txt"
test -s "$work/run/final.safetensors"
