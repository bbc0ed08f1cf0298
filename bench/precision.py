"""Does bf16 training train? fp32 and bf16 from the same initial weights, seed and batches.

Generates the default synthetic data (params.yaml's `generate` section, decoded at --size
px), trains a ResNet-18 with the study recipe once per precision and seed (the project's
own `fit`, models prepared by unlearn.core.compute.prepare_model as every stage prepares
them) and prints each epoch's train loss and accuracy and the final test accuracy.
Checks: the bf16 train loss falls over every run, and the last epoch's train accuracy,
averaged over the seeds, is within --margin of fp32's (after a few epochs held-out
accuracy swings by ±0.08 between seeds of one precision: too noisy to compare). Exit
status 1 when a check fails (bench/gpu.sh's correctness line).

    python bench/precision.py --device cuda --size 64 --epochs 4
    python bench/precision.py --device cpu --size 16 --epochs 2
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from unlearn.core import compute  # noqa: E402
from unlearn.data.mufac import read_mufac  # noqa: E402
from unlearn.data.synthetic import generate  # noqa: E402
from unlearn.training.model import build_model, pick_device  # noqa: E402
from unlearn.training.recipes import resolve_recipe  # noqa: E402
from unlearn.training.train import evaluate, fit  # noqa: E402


def default_data(size):
    """(train, val, test) Splits of the default synthetic data at `size` px."""
    cfg = yaml.safe_load((ROOT / "params.yaml").read_text())["generate"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "custom_korean_family_dataset_resolution_128"
        generate(root, cfg, progress=False)
        data = read_mufac(root, size, progress=False)
    return data.train, data.val, data.test


def train_once(precision, splits, device, epochs, seed=0):
    """Train from seed `seed`'s initial weights in `precision`; (history, test acc)."""
    train, val, test = (s.to(device) for s in splits)
    cfg = compute.resolve({"precision": precision}, device)
    compute.apply_to_process(cfg, device)
    torch.manual_seed(seed)
    model = compute.prepare_model(build_model(8).to(device), cfg)
    recipe = resolve_recipe({"epochs": epochs, "select_best": False})
    with compute.scope(cfg, device):
        model, history, _ = fit(model, train, val, recipe, device=device,
                                generator=torch.Generator().manual_seed(seed))
    return history, evaluate(model, test, device)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--margin", type=float, default=0.05,
                        help="largest gap between the mean last-epoch train accuracies")
    args = parser.parse_args()
    device = pick_device(args.device)
    splits = default_data(args.size)
    print(f"device {device}, {args.size} px, {len(splits[0])} train / {len(splits[2])} test "
          f"images, {args.epochs} epochs, study recipe")
    print("| seed | precision | train loss by epoch | train acc by epoch | test acc | seconds |\n"
          "|---|---|---|---|---|---|")
    ok, last_acc = True, {"fp32": [], "bf16": []}
    for seed in args.seeds:
        for precision in ("fp32", "bf16"):
            start = time.perf_counter()
            history, test_acc = train_once(precision, splits, device, args.epochs, seed)
            losses, accs = [h["loss"] for h in history], [h["acc"] for h in history]
            last_acc[precision].append(history[-1]["acc"])
            print(f"| {seed} | {precision} | {' '.join(f'{x:.3f}' for x in losses)} | "
                  f"{' '.join(f'{x:.3f}' for x in accs)} | {test_acc:.3f} | "
                  f"{time.perf_counter() - start:.1f} |", flush=True)
            if precision == "bf16" and not losses[-1] < losses[0]:
                ok = False
                print(f"FAIL seed {seed}: the bf16 train loss did not fall")
    mean = {p: sum(v) / len(v) for p, v in last_acc.items()}
    gap = abs(mean["bf16"] - mean["fp32"])
    if gap > args.margin:
        ok = False
    print(f"last-epoch train accuracy, mean of {len(args.seeds)} seed(s): fp32 {mean['fp32']:.3f}, "
          f"bf16 {mean['bf16']:.3f}, gap {gap:.3f}")
    print(f"correctness: {'PASS' if ok else 'FAIL'} (bf16 loss falls in every run; train "
          f"accuracy gap {gap:.3f} ≤ {args.margin})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
