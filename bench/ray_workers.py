"""Ray on this machine: start-up overhead, seeds/min of unlearning, reference models/min.

All figures come from one run, so their ratios share the machine's load at the time:

1. Ray start-up: a local Ray instance started, one no-op task (a worker process
   started), stopped; then the same with torch imported in the worker.
2. Unlearning seeds per minute (`executor.kind: ray`, `address: null`, K = 1, 2 tasks at
   once) and, for reference, the local executor with K workers; the stage's code path
   (unlearn.core.executor.run_all over unlearn.runner's job) on random 16-px images sized
   like the default data, Ray's start-up included.
3. Reference models per minute: `python -m fanout` over M new train_retrained
   seeds with K = 1, 2, in a throw-away copy of the pipeline (tests/pipeline_repo.py's
   tiny config, or params.yaml's default data), against a sequential `dvc repro` of M.

    python bench/ray_workers.py                  # tiny models: Ray's per-task overheads, ~3 min
    python bench/ray_workers.py --seeds 20 --models 2 --epochs 8 --config default   # ~6 min
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")   # a loopback-only instance; no token file

from unlearn.core.executor import Job, check_executor, run_all  # noqa: E402


def _noop(state, task):
    return task


def _noop_torch(state, task):
    import torch
    return float(torch.ones(1).sum()) + task


def startup(tmp):
    os.environ["RAY_TMPDIR"] = tmp
    for name, run in (("no-op", _noop), ("torch", _noop_torch)):
        start = time.perf_counter()
        run_all(Job(setup=dict, run=run), [0], check_executor({"kind": "ray", "workers": 1}))
        print(f"ray start-up: local instance + one {name} task + stop: "
              f"{time.perf_counter() - start:.1f} s", flush=True)
    from ray_cluster import ENV, LoopbackCluster
    os.environ.update(ENV)
    start = time.perf_counter()
    cluster = LoopbackCluster().start()
    try:
        print(f"ray start-up: a two-node cluster on 127.0.0.1 (ray start x2): "
              f"{time.perf_counter() - start:.1f} s", flush=True)
        start = time.perf_counter()
        run_all(Job(setup=dict, run=_noop), [0],
                check_executor({"kind": "ray", "address": cluster.address}))
        print(f"ray start-up: joining that cluster + one no-op task + leaving: "
              f"{time.perf_counter() - start:.1f} s", flush=True)
    finally:
        cluster.stop()


def unlearning(tmp, seeds, size, images, workers):
    from unlearn.methods import method_config
    from unlearn.training.recipes import resolve_recipe
    from unlearn.runner import UnlearnTask, unlearning_job
    from workers import synthetic_inputs
    prepared, original = synthetic_inputs(tmp, images, size)
    tasks = [UnlearnTask("finetune", method_config("finetune", None), s) for s in range(seeds)]
    job = unlearning_job(prepared, original, "cpu", resolve_recipe({"epochs": 1}))
    for kind in ("local", "ray"):
        for k in workers:
            cfg = check_executor({"kind": kind, "workers": k})
            start = time.perf_counter()
            results = run_all(job, tasks, cfg)
            wall = time.perf_counter() - start
            method = sum(r["seconds"] for r in results) / len(results)
            print(f"finetune, {kind} executor, {k} worker(s): {seeds} seeds in {wall:.1f} s, "
                  f"{60 * seeds / wall:.1f} seeds/min (method {method:.2f} s a run)", flush=True)


def reference_models(tmp, models, epochs, workers, config):
    import pipeline_repo
    base = pipeline_repo.TINY if config == "tiny" else {"unlearn": {"original": {}}}
    repo = pipeline_repo.make_repo(Path(tmp) / "repo", {**base, "train.epochs": epochs})
    pipeline_repo.dvc(repo, "repro", "prepare")
    first = 100
    for k in [*workers, "dvc repro"]:
        seeds = list(range(first, first + models))
        first += models
        pipeline_repo.edit_params(repo, retrain__seeds=seeds, executor__workers=1 if k == "dvc repro" else k)
        names = [f"train_retrained@{s}" for s in seeds]
        start = time.perf_counter()
        if k == "dvc repro":
            proc = pipeline_repo.dvc(repo, "repro", *names)
        else:
            proc = subprocess.run([sys.executable, "-m", "fanout", *names], cwd=repo,
                                  env=pipeline_repo.env(), capture_output=True, text=True)
            assert proc.returncode == 0, proc.stdout + proc.stderr
        wall = time.perf_counter() - start
        built = [re.search(r"in ([\d.]+) s \(its dvc repro ([\d.]+) s\)", line).groups()
                 for line in proc.stdout.splitlines() if "built on" in line]
        restore = re.findall(r"restored in ([\d.]+) s", proc.stdout)
        what = "sequential dvc repro" if k == "dvc repro" else f"fanout, {k} Ray worker(s)"
        extra = ""
        if built:
            task, inside = (sum(float(b[j]) for b in built) / len(built) for j in (0, 1))
            extra = (f"; a task {task:.1f} s on average, its dvc repro {inside:.1f} s of it; "
                     f"restoring all here {float(restore[0]):.1f} s")
        print(f"reference models, {what}: {models} in {wall:.1f} s, "
              f"{60 * models / wall:.2f} models/min{extra}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--images", type=int, default=750, help="synthetic images (default data: ~750)")
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--config", choices=("tiny", "default"), default="tiny",
                        help="data and model of the reference models: the tests' tiny config "
                             "or params.yaml's default (~40 s a model at 8 epochs)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ray-bench-") as tmp:
        (Path(tmp) / "ray").mkdir()
        startup(str(Path(tmp) / "ray"))
        unlearning(tmp, args.seeds, args.size, args.images, args.workers)
        reference_models(tmp, args.models, args.epochs, args.workers, args.config)


if __name__ == "__main__":
    main()
