#!/usr/bin/env bash
# The GPU checks and benchmark, one command, about 6 minutes on a CUDA machine:
#   1. correctness: bf16 training trains (loss falls, train accuracy within 0.05 of fp32's);
#   2. determinism: every method run twice under compute.deterministic true (and a few
#      under false) gives the same logits bytes, and no kernel refuses deterministic mode;
#   3. ResNet-18 training/inference images/s at 128 px: fp32, the input path of before
#      (data on the host), the default (bf16, channels_last, data on the GPU,
#      deterministic) and the nondeterministic cudnn.benchmark path, beside the notebook;
#   4. seeds per minute for K concurrent unlearning runs sharing one GPU (K = 1, 2, 4, 8),
#      which sets placement.AUTO_WORKERS_PER_GPU.
# Run from the repository root after `make venv`: bash bench/gpu.sh | tee bench/results/gpu.md
# (then python bench/to_readme.py gpu --file bench/results/gpu.md puts it in the README).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export PYTHONUNBUFFERED=1
status=0
$PY -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print('torch', torch.__version__, 'on', torch.cuda.get_device_name(0))"
echo
echo "### 1. bf16 against fp32 (bench/precision.py: default data at 64 px, 4 epochs, 3 seeds)"
timeout 90 $PY bench/precision.py --device cuda --size 64 --epochs 4 || status=1
echo
echo "### 2. reruns byte for byte (bench/determinism.py: 600 random images of 32 px)"
timeout 120 $PY bench/determinism.py --device cuda --modes true || status=1
timeout 60 $PY bench/determinism.py --device cuda --modes false \
    --methods finetune retrain ssd bad_teacher || true   # informative: may differ
echo
echo "### 3. images/s at 128 px (bench/train.py: 4096 images, 3 epochs, each variant twice)"
timeout 200 $PY bench/train.py --sizes 128 --images 4096 --epochs 3 --repeat 2 --device cuda || status=1
echo
echo "### 4. seeds/min, K concurrent runs on one GPU (bench/workers.py: finetune, 2000 random images of 128 px, bf16)"
echo '```'
timeout 200 $PY bench/workers.py --synthetic 2000 --size 128 --method finetune --seeds 48 \
    --workers 1 2 4 8 --device cuda || status=1
echo '```'
exit $status
