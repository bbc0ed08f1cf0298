#!/usr/bin/env bash
# The GPU benchmark, one command, under 5 minutes on a CUDA machine:
#   1. ResNet-18 training/inference images/s at 128 px: fp32 vs the fast path
#      (bf16 autocast, channels_last, cudnn.benchmark), beside the notebook baseline;
#   2. models per hour for K concurrent unlearning runs sharing one GPU (K = 1, 2, 4, 8).
# Run from the repository root after `make venv`: bash bench/gpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export PYTHONUNBUFFERED=1
$PY -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(0))"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
echo "== images/s at 128 px (bench/train.py)"
timeout 150 $PY bench/train.py --sizes 128 --images 2048 --epochs 2 --device cuda
echo "== models/hour, K concurrent runs on one GPU (bench/workers.py, finetune, 2000 images of 128 px)"
timeout 150 $PY bench/workers.py --synthetic 2000 --size 128 --method finetune --seeds 16 \
    --workers 1 2 4 8 --device cuda
