#!/usr/bin/env bash
# sadanet export end to end: a freshly trained tiny model written as ONNX and as torchvision; then
# the mistakes a user makes, each one line with the CLI's exit codes (2: usage, 1: a file that
# cannot be used) and nothing written. Usage: export.sh SADANET WORKDIR
set -uo pipefail
sadanet=$1
work=$2
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }

# expect RC PATTERN ARGS...: the exit code and a line of the output (stdout and stderr).
expect() {
  local rc=$1 pattern=$2
  shift 2
  "$sadanet" "$@" >"$work/out" 2>&1
  local got=$?
  [[ $got == "$rc" ]] || fail "sadanet $*: exit $got, expected $rc: $(head -5 "$work/out")"
  grep -qE -- "$pattern" "$work/out" || fail "sadanet $*: no '$pattern' in: $(head -5 "$work/out")"
  local lines
  lines=$(wc -l <"$work/out")
  [[ $rc == 0 || $lines -le 4 ]] || fail "sadanet $*: $lines lines for an error: $(head -8 "$work/out")"
}

"$sadanet" synth --out "$work/data" --domains 2 --per-class 2 --size 40 >/dev/null || fail synth
"$sadanet" train --data "$work/data" --target synthB --method erm --arch resnet-tiny --size 40 --batch 4 \
  --steps1 2 --steps2 0 --out "$work/run" >"$work/train.log" 2>&1 || fail "train: $(tail -5 "$work/train.log")"
model=$work/run/final.safetensors

if "$sadanet" info | grep -q "^export: .*onnx,"; then
  expect 0 "wrote .*model.onnx \(ONNX opset 17, resnet-tiny, 5 classes, input 40x40\)" \
    export --model "$model" --format onnx -o "$work/model.onnx"
  [[ -s $work/model.onnx ]] || fail "no model.onnx"
else
  expect 1 "built without ONNX export.*libonnx-dev libprotobuf-dev" export --model "$model" --format onnx -o "$work/model.onnx"
  [[ ! -e $work/model.onnx ]] || fail "an export that is not built wrote model.onnx"
fi
expect 0 "torchvision.models.resnet.ResNet\(torchvision.models.resnet.Bottleneck, \[1, 1, 1, 1\], num_classes=5\)" \
  export --model "$model" --format torchvision -o "$work/model.pth"
[[ -s $work/model.pth ]] || fail "no model.pth"

expect 2 "--model: File does not exist" export --model "$work/missing.safetensors" --format onnx -o "$work/a.onnx"
expect 2 "--format: .*onnx" export --model "$model" --format tflite -o "$work/a.tflite"
expect 2 "--model is required" export --format onnx -o "$work/a.onnx"
expect 2 "--output is required" export --model "$model" --format onnx
expect 2 "the folder of .*missing-dir/a.onnx.* does not exist" export --model "$model" --format onnx -o "$work/missing-dir/a.onnx"
expect 2 "is a folder" export --model "$model" --format torchvision -o "$work"
expect 2 "did you mean --format" export --model "$model" --fromat onnx -o "$work/a.onnx"
expect 1 "is the model file itself" export --model "$model" --format torchvision -o "$model"
printf 'not a model' >"$work/junk.safetensors"
expect 1 "^sadanet: error: .*junk.safetensors" export --model "$work/junk.safetensors" --format torchvision -o "$work/a.pth"
cp "$work/data/synthA/basophil/basophil_0000.png" "$work/image.png"
expect 1 "^sadanet: error: .*image.png" export --model "$work/image.png" --format torchvision -o "$work/a.pth"
[[ ! -e $work/missing-dir && ! -e $work/a.onnx && ! -e $work/a.pth && ! -e $work/a.tflite ]] ||
  fail "a failed export wrote a file"
ls "$work" | grep -q '\.tmp\.' && fail "a failed export left a temporary file"
"$sadanet" export --model "$model" --format torchvision -o "$work/again.pth" >/dev/null || fail "model damaged"
cmp -s "$work/model.pth" "$work/again.pth" || fail "two exports of one model differ"
echo "export: all passed"
