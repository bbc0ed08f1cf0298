"""Rehearse the real MUFAC run at its full size with the training budget cut, and say what the
full preset would cost on this machine.

    .venv/bin/python bench/mufac_rehearsal.py [--epochs 1] [--runs 2]
        [--methods finetune neggrad ssd scrub] [--families train=405,val=62,test=61]
        [--image-size 128] [--workers 2] [--method-epochs 1] [--keep DIR]
    .venv/bin/python bench/mufac_rehearsal.py --keep DIR --rerun unlearn@scrub ...
    .venv/bin/python bench/mufac_rehearsal.py --render OLD/rehearsal.json DIR/rehearsal.json

Builds a throw-away copy of the project (tests/pipeline_repo.py) with presets/mufac.yaml
applied, except: the data is the synthetic generator's, at MUFAC's size (the family counts
that come closest to 10,025 / 1,539 / 1,504 images) and MUFAC's 128 px; `train.epochs`,
`runs.seeds` and the methods are cut as asked. Then runs the stages one `dvc repro -s` at a
time, measuring each stage's wall time and peak memory (bench/proc_meter.py: RSS of the
stage process and of its largest worker, PSS of them together, GPU memory where there is a
GPU; DVC's own process is left out), and writes the measurements to <folder>/rehearsal.json
(`--render` prints the report of one again, or of several of the same cut combined:
a rehearsal after a fix need only rerun what the fix changed, `--rerun` in its kept
copy). The report (bench/rehearsal_report.py): the table, images per second of training
(train images × epochs / the stage's wall time, so start-up and evaluation included), and
the extrapolation to the full preset on this machine.
"""
import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import pipeline_repo  # noqa: E402
from proc_meter import Peaks  # noqa: E402
sys.path.insert(0, str(ROOT))
from unlearn.methods import method_config  # noqa: E402
from rehearsal_report import SAME_CUT, combine, load, render  # noqa: E402

PRESET = ROOT / "presets/mufac.yaml"


def merge(base, over):
    out = copy.deepcopy(base)
    for key, value in over.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(
            out.get(key), dict) else copy.deepcopy(value)
    return out


def run_stage(repo, stage, force=False):
    start = time.perf_counter()
    command = [str(pipeline_repo.BIN / "dvc"), "repro", "-s", *(["-f"] if force else []), stage]
    proc = subprocess.Popen(command, cwd=repo,
                            env=pipeline_repo.env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    peaks = Peaks(proc.pid)
    out, _ = proc.communicate()
    peaks.stop()
    if proc.returncode != 0:
        sys.exit(f"{stage} failed:\n{out[-3000:]}")
    return time.perf_counter() - start, peaks


def machine():
    """'<cores> cores (<CPU model>), <RAM> GiB RAM, <GPU or no GPU>' of this machine."""
    cores = len(os.sched_getaffinity(0))
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                  if line.startswith("model name")), "unknown CPU")
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    import torch
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cores} cores ({model}), {ram:.0f} GiB RAM, {gpu}"


def commit():
    """The code measured: HEAD's short hash, '+' where the working tree had changes."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout
    return git("rev-parse", "--short", "HEAD").strip() + ("+" if git("status", "--porcelain",
                                                                     "-uno").strip() else "")


def parse_pairs(text):
    return {k: int(v) for k, v in (p.split("=") for p in text.split(","))}



def train_timing(repo, stage):
    """metrics/train/<kind>_<seed>.timing.json of a train_original@/train_retrained@ stage:
    the seconds its fit took (the training epochs and their validation passes)."""
    kind, seed = stage.removeprefix("train_").split("@")
    name = {"original": "original", "retrained": "retrained"}[kind]
    return json.loads((repo / f"metrics/train/{name}_{seed}.timing.json").read_text())["seconds"]


def timings(repo, stages, rows):
    """The fit seconds of the training stages among `stages` and the mean seconds of a run
    of each row in `rows`, the method alone (the unlearn stage's metrics/timing)."""
    return {"fit_seconds": {s: train_timing(repo, s) for s in stages if s.startswith("train_")},
            "method_seconds": {m: statistics.fmean(json.loads(
                (repo / f"metrics/timing/{m}.json").read_text())["seconds"]) for m in rows}}


def epoch_cuts(unlearn_params, methods):
    """{method: [epochs run, epochs of the full preset]} of each method whose own `epochs`
    the rehearsal's params cut (the extrapolation scales it back)."""
    cuts = {}
    for method in methods:
        full = getattr(method_config(method, {}), "epochs", 0)
        run = (unlearn_params.get(method) or {}).get("epochs", full)
        if run < full:
            cuts[method] = [run, full]
    return cuts


def measure_stages(repo, stages, force=False):
    """{stage: wall time and peak memory} of each stage, run in order."""
    measured = {}
    for stage in stages:
        wall, peaks = run_stage(repo, stage, force)
        measured[stage] = {"wall": wall, "stage_rss": peaks.stage, "worker_rss": peaks.worker,
                           "total_pss": peaks.total, "gpu": peaks.gpu,
                           "meter_cpu": peaks.cpu_seconds}
        print(f"{stage}: {wall:.1f} s", file=sys.stderr, flush=True)
    return measured


def rerun(args):
    """Rerun `args.rerun`'s stages in the kept copy `args.keep` of an earlier rehearsal, with
    this tree's code, forced, in the pipeline's order; return [the earlier measurement, the
    new one] (the earlier one's cut, these stages only; also written to
    <folder>/rerun-<time>.json)."""
    began = time.time()
    folder, repo = args.keep, args.keep / "repo"
    earlier = json.loads((folder / "rehearsal.json").read_text())
    earlier = earlier[-1] if isinstance(earlier, list) else earlier
    unknown = [s for s in args.rerun if s not in earlier["stages"]]
    if unknown:
        sys.exit(f"error: --rerun {' '.join(unknown)}: not a stage of the rehearsal in {folder} "
                 f"({', '.join(earlier['stages'])})")
    pipeline_repo.copy_code(repo, skip=("params.yaml",))   # the code now; the cut as it was
    stages = [s for s in earlier["stages"] if s in args.rerun]   # the pipeline's order, once
    rows = [s.removeprefix("unlearn@") for s in stages if s.startswith("unlearn@")]
    out = {k: earlier[k] for k in (*SAME_CUT, "no_references")}
    out.update({
        "machine": machine(),   # this one: combine refuses runs of two machines
        "date": time.strftime("%Y-%m-%d"), "commit": commit(),
        "command": " ".join(["python bench/mufac_rehearsal.py", *sys.argv[1:]]),
        "methods": [m for m in earlier["methods"] if m in rows],
        "method_epochs": epoch_cuts(yaml.safe_load((repo / "params.yaml").read_text())["unlearn"],
                                    rows),
        "stages": measure_stages(repo, stages, force=True),
        **timings(repo, stages, rows)})
    out["minutes"] = (time.time() - began) / 60
    (folder / f"rerun-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(
        json.dumps(out, indent=1) + "\n")
    return [earlier, out]


def measure(args):
    """Run the cut preset stage by stage; return the measurements (written to
    <folder>/rehearsal.json as well)."""
    began = time.time()
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    full = merge(params, yaml.safe_load(PRESET.read_text()))
    cut = merge(full, {"data": {"root": params["data"]["root"], "image_size": args.image_size},
                       "generate": {"families": args.families},
                       "train": {"epochs": args.epochs},
                       "runs": {"seeds": list(range(args.runs))},
                       "executor": {"workers": args.workers}})
    rows_run = ["original", *([] if args.no_references else ["retrain"]), *args.methods]
    cut["unlearn"] = {m: {} for m in rows_run}
    for method in args.methods if args.method_epochs else []:
        if getattr(method_config(method, {}), "epochs", 0) > args.method_epochs:
            cut["unlearn"][method] = {"epochs": args.method_epochs}
    if args.forget_count:
        cut["prepare"]["forget"]["count"] = args.forget_count
    folder = args.keep or Path(tempfile.mkdtemp(prefix="mufac-rehearsal-"))
    repo = pipeline_repo.make_repo(folder / "repo", dict(cut))
    print(f"rehearsal in {folder}", file=sys.stderr, flush=True)

    stages = (["check_params", "generate", "prepare"]
              + [f"train_original@{s}" for s in cut["original"]["seeds"]]
              + ([] if args.no_references else [f"train_retrained@{s}"
                                                for s in cut["retrain"]["seeds"]])
              + [f"unlearn@{m}" for m in cut["unlearn"]]
              + ([] if args.no_references else ["score", "report"]))
    measured = measure_stages(repo, stages)
    out = {
        "machine": machine(), "date": time.strftime("%Y-%m-%d"), "commit": commit(),
        "command": " ".join(["python bench/mufac_rehearsal.py", *sys.argv[1:]]),
        "minutes": (time.time() - began) / 60, "no_references": args.no_references,
        "image_size": args.image_size, "epochs": args.epochs, "runs": args.runs,
        "workers": args.workers, "methods": args.methods,
        "method_epochs": epoch_cuts(cut["unlearn"], args.methods),
        "counts": json.loads((repo / "data/prepared/info.json").read_text())["counts"],
        "full": {"epochs": full["train"]["epochs"], "runs": len(full["runs"]["seeds"]),
                 "rows": list(params["unlearn"]),
                 "trainings": len(full["original"]["seeds"]) + len(full["retrain"]["seeds"])},
        "stages": measured, **timings(repo, stages, rows_run)}
    (folder / "rehearsal.json").write_text(json.dumps(out, indent=1) + "\n")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--runs", type=int, default=2, help="N, unlearning runs per method")
    parser.add_argument("--methods", nargs="+", default=["finetune", "neggrad", "ssd", "scrub"])
    parser.add_argument("--families", type=parse_pairs, default={"train": 405, "val": 62,
                                                                  "test": 61})
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2, help="executor.workers")
    parser.add_argument("--method-epochs", type=int, help="cut each method's own `epochs` "
                        "to this (SCRUB's 3, say, to 1); the extrapolation scales the method's "
                        "seconds back linearly")
    parser.add_argument("--forget-count", type=int, help="prepare.forget.count (default: the "
                        "preset's; smaller for a trial of this script on a tiny set)")
    parser.add_argument("--no-references", action="store_true",
                        help="skip the reference models and the retrain row (and so scoring): "
                        "the retrain row is then estimated as one training per run")
    parser.add_argument("--keep", type=Path, help="build the copy here and keep it")
    parser.add_argument("--rerun", nargs="+", metavar="STAGE",
                        help="with --keep DIR of an earlier rehearsal: rerun these of its "
                        "stages there with this tree's code, and report them combined with it")
    parser.add_argument("--render", type=Path, nargs="+", metavar="JSON",
                        help="print the report of rehearsal.json files (each one rehearsal or "
                        "a list), combined oldest first (`combine`); run nothing")
    args = parser.parse_args()
    if args.rerun and not (args.keep and (args.keep / "rehearsal.json").is_file()):
        parser.error("--rerun needs --keep DIR, the folder of an earlier rehearsal")
    if args.rerun and args.render:
        parser.error("--rerun runs stages, --render runs none: give one of them")
    measured = (load(args.render) if args.render else combine(rerun(args)) if args.rerun
                else measure(args))
    print("\n".join(render(measured)))


if __name__ == "__main__":
    main()
