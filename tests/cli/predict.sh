#!/usr/bin/env bash
# `sadanet predict` as a lab uses it on a trained model: a folder in, labels by name out (text,
# CSV, JSON lines), a bad file reported on its line without stopping the rest, exit codes.
# Usage: predict.sh SADANET WORKDIR (WORKDIR as use_model_setup.sh left it)
set -uo pipefail
sadanet=$1
work=$2
model=$work/run/final.safetensors
out=$work/predict
rm -rf "$out" && mkdir -p "$out"
fail() { echo "FAIL: $*"; exit 1; }
mapfile -t classes <"$work/classes.txt"
is_class() { local c; for c in "${classes[@]}"; do [[ $c == "$1" ]] && return 0; done; return 1; }
images=$(find "$work/cells" -name '*.png' | wc -l)
((images >= 10)) || fail "the fixture has $images images"

# A folder, recursively, with CSV: every image once, names from the model file.
"$sadanet" predict --model "$model" "$work/cells" --csv "$out/labels.csv" >"$out/text" 2>"$out/err" ||
  fail "predict on a good folder: exit $? $(cat "$out/err")"
[[ $(head -1 "$out/labels.csv") == "path,label,index,probability,label_2,probability_2,label_3,probability_3,error" ]] ||
  fail "CSV header: $(head -1 "$out/labels.csv")"
[[ $(($(wc -l <"$out/labels.csv") - 1)) == "$images" ]] || fail "CSV rows: $(wc -l <"$out/labels.csv") for $images images"
[[ $(wc -l <"$out/text") == "$images" ]] || fail "text lines: $(wc -l <"$out/text")"
while IFS=, read -r path label index prob rest; do
  is_class "$label" || fail "CSV label '$label' is not one of the model's classes (${classes[*]})"
  [[ $index =~ ^[0-9]+$ && $prob =~ ^0\.[0-9]{6}$|^1\.000000$ ]] || fail "CSV row: $path,$label,$index,$prob"
done < <(tail -n +2 "$out/labels.csv")
grep -q "${classes[0]}" "$out/err" || fail "the model's classes are not named on stderr: $(cat "$out/err")"

# Bad inputs among good ones: each on its own line, the rest classified, exit 1. A name with a
# comma and a quote is quoted in the CSV.
mkdir -p "$out/mixed/sub"
cp "$(find "$work/cells" -name '*.png' | sort | head -1)" "$out/mixed/sub/cell \"a\",1.png"
cp "$(find "$work/cells" -name '*.png' | sort | tail -1)" "$out/mixed/good.png"
echo "not a picture" >"$out/mixed/broken.jpg"
echo "notes" >"$out/mixed/notes.txt"
"$sadanet" predict --model "$model" "$out/mixed" "$out/missing.png" --csv "$out/mixed.csv" --top-k 1 >"$out/mixed.text" 2>"$out/mixed.err"
rc=$?
[[ $rc == 1 ]] || fail "predict with bad files: exit $rc, expected 1"
[[ $(wc -l <"$out/mixed.csv") == 5 ]] || fail "mixed CSV: $(cat "$out/mixed.csv")"
grep -q '^"[^"]*/sub/cell ""a"",1.png",' "$out/mixed.csv" || fail "RFC 4180 quoting: $(cat "$out/mixed.csv")"
grep -q 'broken.jpg,,,,.*not a JPEG, PNG or BMP' "$out/mixed.csv" || fail "broken.jpg's row: $(cat "$out/mixed.csv")"
grep -q 'missing.png,,,,no such file' "$out/mixed.csv" || fail "missing.png's row: $(cat "$out/mixed.csv")"
[[ $(tail -1 "$out/mixed.csv") == *missing.png* ]] || fail "rows not in argument order: $(cat "$out/mixed.csv")"
grep -q "good.png  [a-z]" "$out/mixed.text" || fail "good.png not classified: $(cat "$out/mixed.text")"
grep -q "1 file in the folders ignored" "$out/mixed.err" || fail "notes.txt not counted: $(cat "$out/mixed.err")"
grep -q "2 failed" "$out/mixed.err" || fail "summary: $(cat "$out/mixed.err")"

# JSON lines: one object per image, parseable, top-k sorted, names.
"$sadanet" predict --model "$model" "$work/cells" --json --top-k 2 >"$out/json" 2>/dev/null || fail "--json: exit $?"
python3 - "$out/json" "$images" "${classes[@]}" <<'PY' || fail "JSON lines"
import json, sys
path, n, classes = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
rows = [json.loads(l) for l in open(path)]
assert len(rows) == n, (len(rows), n)
for r in rows:
    assert r["ok"] and r["label"] in classes and r["label"] == classes[r["index"]], r
    assert len(r["top"]) == 2 and r["top"][0]["probability"] >= r["top"][1]["probability"], r
    assert abs(sum(r["probabilities"]) - 1) < 1e-5 and len(r["logits"]) == len(classes), r
    assert r["probability"] == max(r["probabilities"]), r
PY

# A closed pipe does not lose the CSV.
"$sadanet" predict --model "$model" "$work/cells" --csv "$out/piped.csv" 2>/dev/null | head -1 >/dev/null
[[ $(wc -l <"$out/piped.csv") == $((images + 1)) ]] || fail "--csv under a closed pipe: $(wc -l <"$out/piped.csv") lines"

# Usage and data errors: the exit code, one line, nothing written.
"$sadanet" predict --model "$work/nope.safetensors" "$work/cells" >"$out/e1" 2>&1; rc=$?
[[ $rc == 2 ]] && grep -q "does not exist" "$out/e1" || fail "missing model: exit $rc $(cat "$out/e1")"
"$sadanet" predict --model "$model" "$work/cells" --csv "$out/no/such/dir/x.csv" >"$out/e2" 2>&1; rc=$?
[[ $rc == 1 ]] && grep -q "does not exist" "$out/e2" || fail "CSV in a missing folder: exit $rc $(cat "$out/e2")"
"$sadanet" predict --model "$work/classes.txt" "$work/cells" >"$out/e3" 2>&1; rc=$?
[[ $rc == 1 ]] && grep -q "unrecognised format" "$out/e3" || fail "a text file as model: exit $rc $(cat "$out/e3")"
"$sadanet" predict --model "$model" "$work/cells" --device gpu >"$out/e4" 2>&1; rc=$?
[[ $rc == 1 && $(wc -l <"$out/e4") -le 2 ]] || fail "--device gpu: exit $rc $(cat "$out/e4")"
echo "predict: all checks passed ($images images)"
