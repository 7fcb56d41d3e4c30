#!/usr/bin/env bash
# A lab with its own classes and folder names (--classes, --class-map) through train, eval and
# predict; protocol refusing finished runs trained with other settings, and saying its settings.
# Usage: class_lists.sh SADANET WORKDIR
set -uo pipefail
sadanet=$1
work=$2
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }
"$sadanet" synth --out "$work/data" --domains 2 --per-class 3 --size 40 --balanced >/dev/null || fail synth
for d in "$work"/data/*/; do
  mv "$d/neutrophil" "$d/band neutrophil"
  mkdir -p "$d/erythroblast" && cp "$d"/basophil/* "$d/erythroblast/"
done
printf '# our labels\nerythroblast\nlymphocyte\nneutrophil: band neutrophil, segmented\n' >"$work/map.txt"
common=(--data "$work/data" --target synthB --method erm --arch resnet-tiny --size 32 --batch 2 --swad false --steps-erm 2)

"$sadanet" train "${common[@]}" --class-map "$work/map.txt" --out "$work/run" >"$work/train.log" 2>&1 ||
  fail "train --class-map: $(tail -3 "$work/train.log")"
grep -q 'source train [0-9]* (erythroblast [1-9][0-9]*, lymphocyte [1-9][0-9]*, neutrophil [1-9]' "$work/train.log" ||
  fail "the class map's labels and counts: $(grep 'source train' "$work/train.log")"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["labels"]==["erythroblast","lymphocyte","neutrophil"], j["labels"]' \
  "$work/run/model.json" || fail "model.json labels"
# The console is kept in the run folder, and config.json says what produced the run.
grep -q "source train" "$work/run/log.txt" && grep -q "F1-macro" "$work/run/log.txt" ||
  fail "log.txt: $(head -5 "$work/run/log.txt")"
python3 - "$work/run/config.json" <<'PY' || fail "config.json provenance"
import json, sys
p = json.load(open(sys.argv[1]))["provenance"]
assert p["sadanet_version"] and p["source_commit"] and p["build"].startswith("cuda="), p
assert p["compute_threads"] >= 1 and p["dataset_images"] > 0 and len(p["split_hash"]) == 16, p
PY
"$sadanet" eval --checkpoint "$work/run/final.safetensors" --split all >"$work/eval.log" 2>&1 || fail "eval: $(tail -3 "$work/eval.log")"
grep -q "erythroblast" "$work/eval.log" || fail "eval does not use the run's classes: $(cat "$work/eval.log")"
"$sadanet" predict --model "$work/run/final.safetensors" "$work/data/synthB" --json 2>/dev/null >"$work/pred.json" || fail predict
python3 -c 'import json,sys; assert all(json.loads(l)["label"] in ("erythroblast","lymphocyte","neutrophil") for l in open(sys.argv[1]))' \
  "$work/pred.json" || fail "predict labels"

# --classes: a typo is a usage error (exit 2), before any folder exists.
"$sadanet" train "${common[@]}" --classes basophil,Basophil --out "$work/dup" >"$work/dup.log" 2>&1; rc=$?
[[ $rc == 2 ]] && grep -q "listed twice" "$work/dup.log" || fail "--classes duplicate: exit $rc $(cat "$work/dup.log")"
[[ ! -e $work/dup ]] || fail "--classes duplicate created the run folder"
"$sadanet" train "${common[@]}" --classes basophil,eosinophil,lymphocyte,monocyte,neutrophil --out "$work/five" \
  >"$work/five.log" 2>&1 || fail "--classes: $(tail -3 "$work/five.log")"
grep -q "ignoring folders that are not classes: band neutrophil, erythroblast" "$work/five.log" ||
  fail "--classes without the map: $(grep -i ignoring "$work/five.log")"

# protocol: finished runs count only under the settings they were trained with.
proto=(--data "$work/data" --methods erm --trials 1 --arch resnet-tiny --size 32 --batch 2 --steps-erm 2 --swad false
       --out "$work/proto")
"$sadanet" protocol "${proto[@]}" --lr 1e-3 >"$work/p1.log" 2>&1 || fail "protocol: $(tail -3 "$work/p1.log")"
grep -q "== run 1/2" "$work/proto/log.txt" || fail "protocol log.txt: $(head -3 "$work/proto/log.txt")"
grep -q '"lr":0.001' "$work/proto/results.md" || fail "results.md does not say its settings: $(tail -3 "$work/proto/results.md")"
"$sadanet" protocol "${proto[@]}" --lr 1e-3 >"$work/p2.log" 2>&1 || fail "protocol rerun: $(tail -3 "$work/p2.log")"
grep -q "already done (same settings)" "$work/p2.log" || fail "same settings not reused: $(cat "$work/p2.log")"
cp "$work/proto/results.md" "$work/results-before.md"
"$sadanet" protocol "${proto[@]}" --lr 2e-3 >"$work/p3.log" 2>&1; rc=$?
[[ $rc == 1 ]] && grep -q "lr: 0.002 vs 0.001" "$work/p3.log" || fail "other settings: exit $rc $(cat "$work/p3.log")"
cmp -s "$work/proto/results.md" "$work/results-before.md" || fail "results.md rewritten by a refused protocol"
echo "class_lists: all checks passed"
