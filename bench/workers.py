"""Seeds per minute of one unlearning method on K local workers, K = 1, 2, ... in one run.

Uses the stage's own code path (unlearn.core.executor.run_all over unlearn.runner's job), so
the figure is what `unlearn@<method>` gets, minus DVC and the stage's start-up. Either
on the pipeline's prepared data and original model (run `dvc repro train_original`
first), or on random images of any size (`--synthetic`), e.g. 128 px on a GPU.

    python bench/workers.py --method finetune --seeds 6 --workers 1 2
    python bench/workers.py --synthetic 2000 --size 128 --method finetune --workers 1 2 4 8
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from unlearn.core.compute import check_compute, resolve  # noqa: E402
from unlearn.data.splits import Split, save_split  # noqa: E402
from unlearn.core.executor import check_executor, run_all  # noqa: E402
from unlearn.methods import method_config  # noqa: E402
from unlearn.training.model import build_model, pick_device, save_checkpoint  # noqa: E402
from unlearn.training.recipes import resolve_recipe  # noqa: E402
from unlearn.runner import UnlearnTask, unlearning_job  # noqa: E402


def synthetic_inputs(folder, n, size):
    """Random uint8 images split like the default data (retain 85 %, forget 8 %, val/test)."""
    g = torch.Generator().manual_seed(0)
    counts = {"retain": int(0.85 * n), "forget": max(8, int(0.08 * n)),
              "val": max(8, n // 20), "test": max(8, n // 20)}
    for name, m in counts.items():
        save_split(Split(torch.randint(0, 256, (m, 3, size, size), dtype=torch.uint8, generator=g),
                         torch.randint(0, 8, (m,), generator=g), [f"{name}{i}" for i in range(m)],
                         [f"p{i % 50}" for i in range(m)]), Path(folder) / f"{name}.pt")
    torch.manual_seed(0)
    save_checkpoint(build_model(8), Path(folder) / "model.pt", arch="resnet18", num_classes=8)
    return Path(folder), Path(folder) / "model.pt"


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", default="finetune")
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--original", default="models/original/seed_0/model.pt")
    parser.add_argument("--synthetic", type=int, help="random images instead of the pipeline's")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto", help="compute.precision")
    args = parser.parse_args()
    device = pick_device(args.device)
    compute_cfg = check_compute({"precision": args.precision})
    tmp = tempfile.TemporaryDirectory()
    prepared, original = ((synthetic_inputs(tmp.name, args.synthetic, args.size))
                          if args.synthetic else (Path(args.prepared), Path(args.original)))
    cfg = method_config(args.method, None)
    tasks = [UnlearnTask(args.method, cfg, seed) for seed in range(args.seeds)]
    job = unlearning_job(prepared, original, args.device, resolve_recipe({"epochs": 1}),
                         compute_cfg)
    print(f"{args.method}, {args.seeds} seeds, device {device}, "
          f"{resolve(compute_cfg, device)['precision']}, data {prepared}")
    base = base_busy = None
    for k in args.workers:
        executor = check_executor({"workers": k, "workers_per_gpu": max(args.workers)},
                                  threads=compute_cfg["threads"], device=args.device)
        start = time.perf_counter()
        results = run_all(job, tasks, executor)
        wall = time.perf_counter() - start
        per_min = 60 * len(results) / wall
        base = base or per_min
        method_s = sum(r["seconds"] for r in results) / len(results)
        # k runs in flight, each taking method_s: what the device does per minute once the
        # workers are up (the wall figure also pays their start and the last round's idle)
        busy = 60 * min(k, len(results)) / method_s
        base_busy = base_busy or busy
        print(f"workers {k}: {wall:.1f} s wall, {per_min:.1f} seeds/min "
              f"({60 * per_min:.0f}/hour), {per_min / base:.2f}x of the first; "
              f"method {method_s:.2f} s a run, {busy:.0f} runs/min while all run "
              f"({busy / base_busy:.2f}x)", flush=True)


if __name__ == "__main__":
    main()
