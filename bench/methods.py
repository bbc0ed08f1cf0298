"""Per-run cost of unlearning methods at the params.yaml config, as ratios to `finetune`.

    .venv/bin/python bench/methods.py [METHOD ...] [--seeds 0 1] [--set unlearn.x.y=v ...]

Needs data/prepared and models/original/seed_0 (`dvc repro train_original@0`). Runs every named
method (default: all listed under `unlearn` but the reference row, retrain) once per seed from the original,
with `finetune` interleaved as the yardstick, and prints the median seconds of the
method call, its ratio to finetune's median measured in the same process, forget /
retain / test accuracy, and any ctx.stats the method recorded. On a machine shared with
other jobs absolute seconds are noisy; the ratios are the figures to quote.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.apply_preset import parse_set  # noqa: E402
from unlearn.data.splits import load_prepared  # noqa: E402
from unlearn.methods import UnlearnContext, get_method, method_config  # noqa: E402
from unlearn.training.model import build_model, load_checkpoint  # noqa: E402
from unlearn.training.recipes import resolve_recipe  # noqa: E402
from unlearn.training.train import evaluate  # noqa: E402


def run_once(method, cfg, state, splits, seed, num_classes, recipe):
    torch.manual_seed(seed)
    model = build_model(num_classes)
    model.load_state_dict(state)
    ctx = UnlearnContext(retain=splits["retain"], forget=splits["forget"], val=splits["val"],
                         device=torch.device("cpu"), seed=seed, num_classes=num_classes,
                         train_recipe=recipe)
    start = time.perf_counter()
    model = get_method(method).fn(model, ctx, cfg)
    seconds = time.perf_counter() - start
    accs = {s: evaluate(model, splits[s], torch.device("cpu"))
            for s in ("forget", "retain", "test")}
    return seconds, accs, dict(ctx.stats)


def merge(base, over):
    for k, v in over.items():
        base[k] = merge(base.get(k, {}), v) if isinstance(v, dict) else v
    return base


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("methods", nargs="*")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--set", dest="sets", action="append", default=[])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    params = merge(yaml.safe_load((ROOT / "params.yaml").read_text()), parse_set(args.sets))
    section = params["unlearn"]
    # a reference row is a full retraining: not a method whose cost is in question
    methods = args.methods or [m for m in section if get_method(m).calibration != "reference"]
    splits = load_prepared(ROOT / "data/prepared")
    _, ckpt = load_checkpoint(ROOT / "models/original/seed_0/model.pt")
    recipe = resolve_recipe(params["train"])
    rows = {}
    for seed in args.seeds:
        for method in dict.fromkeys(["finetune", *methods]):
            cfg = method_config(method, section.get(method))
            sec, accs, stats = run_once(method, cfg, ckpt["state_dict"], splits, seed,
                                        ckpt["num_classes"], recipe)
            rows.setdefault(method, []).append((sec, accs, stats))
            print(f"  {method} seed {seed}: {sec:.2f} s", file=sys.stderr, flush=True)
    base = statistics.median(r[0] for r in rows["finetune"])
    print(f"{'method':<16} {'median s':>9} {'x finetune':>10} {'FA':>6} {'RA':>6} {'TA':>6}  stats")
    for method, runs in rows.items():
        sec = statistics.median(r[0] for r in runs)
        mean = {s: statistics.mean(r[1][s] for r in runs) for s in ("forget", "retain", "test")}
        stats = {k: round(statistics.mean(r[2][k] for r in runs), 4) for k in runs[0][2]}
        print(f"{method:<16} {sec:9.2f} {sec / base:10.2f} {mean['forget']:6.3f} "
              f"{mean['retain']:6.3f} {mean['test']:6.3f}  {stats or ''}")


if __name__ == "__main__":
    main()
