#!/usr/bin/env bash
# Test set-up (ctest fixture onnx_venv): a virtual environment with onnxruntime and numpy from
# PyPI, for the tests that run exported ONNX files. Kept between runs: when VENV already
# imports both, nothing is installed. Usage: setup_onnx_venv.sh VENV
set -euo pipefail
venv=$1
python=/usr/bin/python3  # Debian's (python3-venv), whatever python3 comes first on PATH
if [[ -x $venv/bin/python ]] && "$venv/bin/python" -c "import onnxruntime, numpy" 2>/dev/null; then
  echo "onnx venv: $venv has onnxruntime $("$venv/bin/python" -c 'import onnxruntime; print(onnxruntime.__version__)')"
  exit 0
fi
[[ -x $python ]] || { echo "onnx venv: $python not found (apt-get install -y python3 python3-venv)"; exit 1; }
rm -rf "$venv"
"$python" -m venv "$venv" || { echo "onnx venv: '$python -m venv' failed (apt-get install -y python3-venv)"; exit 1; }
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check onnxruntime numpy ||
  { echo "onnx venv: pip could not install onnxruntime and numpy from PyPI"; rm -rf "$venv"; exit 1; }
echo "onnx venv: installed onnxruntime $("$venv/bin/python" -c 'import onnxruntime; print(onnxruntime.__version__)') into $venv"
