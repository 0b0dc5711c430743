#!/bin/bash
# Here, before a GPU call: fill .carry/ (git-ignored) with what the GPU machine lacks: FER2013 packed as JPEG
# bytes with its FER+ votes (fer_core.data.packed) and the wheels of Keras 3 for its Python 3.12; then check
# that the working tree and .carry fit the 64 MiB one call takes. Usage: bash gpu/prepare.sh [SHARED_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${1:-../shared}
PY=${PY:-.venv/bin/python}
KERAS=$(grep -E '^keras==' requirements.txt)
$PY -m fer_core.data.packed "$SHARED/data/fer2013/fer2013.npz" .carry --training-quality 70 --quality 85  # 19.8 MiB (headers shared): the tracked tree with the shipped models takes 33 of the 64
rm -rf .carry/wheels
$PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 -d .carry/wheels "$KERAS" namex==0.1.0 optree==0.20.0
tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
carry=$(du -sb .carry | cut -f1)
echo "travels: working tree $((tree / 1048576)) MiB + .carry $((carry / 1048576)) MiB of the 64 MiB a call takes"
[ $((tree + carry)) -lt $((63 * 1048576)) ] || { echo "too large for one call: pack with a lower --training-quality"; exit 1; }
