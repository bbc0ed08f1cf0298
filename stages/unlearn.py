"""Stage: run one unlearning method once per seed in `runs.seeds`, from the originals.

Run k starts from the original trained with seed `original.seeds[k mod K]`
(stages.common.original_assignment). Writes models/unlearned/<method>/:
  runs.npz     logits of every run on every split, stacked [N, S, C], and the labels
  runs.json    seeds, each run's original (`originals`, its training seed), method
               diagnostics (`stats`), what computed each run (unlearn/core/logits_file.py),
               the method's whole config (`config`: defaults and overrides) and its
               calibration role (`calibration`: null for a method, see unlearn/methods)
  model.pt     full checkpoint of the first `runs.keep_checkpoints` runs (model.pt,
               then model_seed<k>.pt for the others)
and metrics/timing/<method>.json: wall-clock seconds of each run's method call (not
evaluation), kept apart from the models because it differs between identical runs.
The seeds run on the executor named in params (`executor`, unlearn/core/executor.py); each
run is the pure function `unlearn.runner.run_unlearning`, so the outputs are the same
bytes for any number of workers.

Every path is a command-line argument (dvc.yaml passes them; the defaults are the same).
"""
import argparse
import json
import time
from pathlib import Path

import torch

from stages.common import entry_point, load_params, original_assignment
from unlearn.core import compute, logits_file, profiling
from unlearn.core.progress import Progress
from unlearn.core.atomic import atomic_dir, write_json
from unlearn.data.splits import load_labels, read_num_classes
from unlearn.core.errors import UserError
from unlearn.core.params import raise_problems
from unlearn.core.executor import check_executor, describe, run_all
from unlearn.methods import get_method
from unlearn.training.model import load_checkpoint, pick_device, save_state
from unlearn.training.recipes import resolve_recipe
from unlearn.data.splits import EVAL_SPLITS
from unlearn.runner import UnlearnTask, unlearning_job


def fresh(plain):
    """A copy of plain data (dicts, strings, numbers) made of new objects. Pickle writes a
    second reference to one object as a back-reference, so runs computed in this process
    (sharing e.g. the string "cpu") and runs sent back by workers (each its own copy)
    would give a checkpoint different bytes for the same values."""
    return json.loads(json.dumps(plain))


def attribute_time(results, wall, workers):
    """Split the runs' wall time for the profile: method and evaluation (summed over runs,
    divided by the workers that ran them) and the rest, workers starting or idle (N runs on
    K workers leave some idle in the last round when K does not divide N)."""
    k = max(1, min(workers if isinstance(workers, int) else len(results), len(results)))
    method = sum(r["seconds"] for r in results) / k
    evaluation = sum(r["eval_seconds"] for r in results) / k
    profiling.add("method", method)
    profiling.add("logits", evaluation)
    profiling.add("workers starting or idle", max(0.0, wall - method - evaluation))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("method")
    paths = [("--prepared", "data/prepared", "the prepared data"),
             ("--originals", "models/original", "the original models, seed_<k>/model.pt"),
             ("--out", None, "the folder to write (default: models/unlearned/<method>)"),
             ("--timing", None, "the run times to write (default: metrics/timing/<method>.json)")]
    for flag, default, what in paths:
        parser.add_argument(flag, type=Path, default=default, help=f"{what} (default: %(default)s)")
    args = parser.parse_args(argv)
    args.out = args.out or Path(f"models/unlearned/{args.method}")
    args.timing = args.timing or Path(f"metrics/timing/{args.method}.json")
    return args


@entry_point
def main(argv=None):
    args = parse_args(argv)
    method, prepared = args.method, str(args.prepared)
    params = load_params()
    if method not in params["unlearn"]:
        raise UserError(f"unlearn.{method}: not listed under `unlearn` in params.yaml "
                        f"({', '.join(params['unlearn'])})")
    spec = get_method(method)
    cfg = spec.config.parse(params["unlearn"][method], f"unlearn.{method}")
    raise_problems(cfg.cross_check(params))
    compute_cfg = compute.check_compute(params.get("compute"))
    executor = check_executor(params.get("executor", {}), threads=compute_cfg["threads"],
                              device=params["device"])
    if executor["kind"] == "local" or executor["address"] is None:
        # what the workers will resolve, checked here (e.g. bf16 on a GPU without it)
        compute.resolve(compute_cfg, pick_device(params["device"]))
    seeds = params["runs"]["seeds"]
    originals = original_assignment(params["original"]["seeds"], len(seeds))
    paths = {o: str(args.originals / f"seed_{o}" / "model.pt") for o in params["original"]["seeds"]}
    # A pulled checkpoint must fit this project's model and data before anything runs.
    with profiling.phase("load data"):
        num_classes = read_num_classes(prepared)
        for path in paths.values():
            _, ckpt = load_checkpoint(path, arch=params["train"].get("arch", "resnet18"),
                                      num_classes=num_classes)
        labels = load_labels(prepared, EVAL_SPLITS)
    keep = params["runs"].get("keep_checkpoints", 1)
    job = unlearning_job(prepared, paths, params["device"], resolve_recipe(params["train"]),
                         compute_cfg, labels=[f"unlearn@{method} seed {s}" for s in seeds])
    tasks = [UnlearnTask(method, cfg, seed, keep_model=i < keep, original=o)
             for i, (seed, o) in enumerate(zip(seeds, originals))]
    print(f"[{method}] {len(seeds)} runs from {len(paths)} original(s) on {describe(executor)}",
          flush=True)
    progress = Progress(len(tasks), method)
    start = time.time()
    results = run_all(job, tasks, executor,
                      progress=lambda done, total, r: progress.step(
                          f"seed {r['seed']}, {r['seconds']:.1f} s" if "seed" in r else ""))
    progress.close()
    attribute_time(results, time.time() - start, executor["workers"])

    out = args.out
    # Build the whole folder aside and swap it in at the end: no half-written runs.
    with profiling.phase("save"), atomic_dir(out) as tmp:
        for i, (r, o) in enumerate(zip(results, originals)):
            if r["state_dict"] is not None:
                save_state(r["state_dict"], tmp / ("model.pt" if i == 0 else f"model_seed{r['seed']}.pt"),
                           arch=ckpt["arch"], num_classes=ckpt["num_classes"],
                           extra={"method": method, "seed": r["seed"], "original": o,
                                  "compute": fresh(r["compute"])})
        logits_file.save(
            tmp / "runs", {s: torch.stack([r["logits"][s] for r in results]) for s in EVAL_SPLITS},
            labels, {"method": method, "calibration": spec.calibration,
                     "config": cfg.to_dict(), "seeds": list(seeds),
                     "originals": list(originals), "stats": [r["stats"] for r in results],
                     "compute": [r["compute"] for r in results]})
    write_json(args.timing,
               {"seeds": list(seeds), "seconds": [r["seconds"] for r in results]})


if __name__ == "__main__":
    main()
