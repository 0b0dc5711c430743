#!/bin/bash
# On the lent GPU machine (device run, carry [".carry"]): install the carried wheels, then train the plan
# under Keras on PyTorch within BUDGET seconds (default 560); results land in $OUT. Usage: bash gpu/on_device.sh [BUDGET]
set -eo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .carry/wheels/*.whl
export PYTHONPATH=/tmp/site:. KERAS_BACKEND=torch PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
exec python3 gpu/device_train.py --budget "${1:-560}" --out "${OUT:-gpu_out}" "${@:2}"
