#!/usr/bin/env bash
# Usage errors as a new user makes them: one line saying what was wrong, a suggestion for a typo,
# exit 2 for every kind of usage error; an unusable --device is refused before a run folder
# exists. Usage: usage_errors.sh SADANET WORKDIR
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
  [[ $rc == 0 || $lines -le 4 ]] || fail "sadanet $*: $lines lines for a usage error: $(head -8 "$work/out")"
}

expect 2 "did you mean --steps1 \(for --step1\)" train --out "$work/r" --step1 5
expect 2 "--steps1: expected a number >= 0, got -5" train --out "$work/r" --steps1 -5
expect 2 "--out is required" train
expect 2 "did you mean train\?" tarin
expect 2 "File does not exist" eval --checkpoint "$work/missing.safetensors"
expect 2 "expected a number > 0, got 0" train --out "$work/r" --ckpt-every 0
expect 0 "Usage: sadanet train" train --help
[[ ! -e "$work/r" ]] || fail "a usage error created the run folder"

"$sadanet" synth --out "$work/data" --domains 2 --per-class 2 --size 40 >/dev/null || fail synth
if ! "$sadanet" info | grep -qE "cuda: +built, [1-9]"; then
  expect 1 "train: --device cuda: .*; use --device cpu" train --data "$work/data" --target synthB --device cuda --out "$work/gpu"
  [[ ! -e "$work/gpu" ]] || fail "--device cuda without a GPU created the run folder"
fi
expect 1 "config: device|device" train --data "$work/data" --target synthB --device gpu --out "$work/gpu2"
[[ ! -e "$work/gpu2" ]] || fail "--device gpu created the run folder"
echo "usage_errors: all passed"
