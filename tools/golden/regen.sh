#!/usr/bin/env bash
# Regenerates the committed PyTorch goldens (tests/golden/*.json).
# Needs: apt-get install -y python3-torch python3-torchvision; a configured build in $BUILD (default build).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$root/build}
# Debian's python3-torch lives in the system interpreter, which may not be the first python3 on PATH.
py=${PYTHON:-/usr/bin/python3}
cmake --build "$build" --target sadanet_golden_inputs
"$build/tests/sadanet_golden_inputs" > "$build/golden_inputs.json"
"$py" "$root/tools/golden/gen_op_goldens.py" "$build/golden_inputs.json" "$root/tests/golden/ops.json"
for gen in "$root"/tools/golden/gen_*_goldens.py; do
  case "$gen" in *gen_op_goldens.py) continue ;; esac
  "$py" "$gen"
done
