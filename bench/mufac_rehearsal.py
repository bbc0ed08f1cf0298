"""Rehearse the real MUFAC run at its full size with the training budget cut, and say what the
full preset would cost on this machine.

    .venv/bin/python bench/mufac_rehearsal.py [--epochs 1] [--runs 2]
        [--methods finetune neggrad ssd scrub] [--families train=405,val=62,test=61]
        [--image-size 128] [--workers 2] [--keep DIR]
    .venv/bin/python bench/mufac_rehearsal.py --render OLD/rehearsal.json DIR/rehearsal.json

Builds a throw-away copy of the project (tests/pipeline_repo.py) with presets/mufac.yaml
applied, except: the data is the synthetic generator's, at MUFAC's size (the family counts
that come closest to 10,025 / 1,539 / 1,504 images) and MUFAC's 128 px; `train.epochs`,
`runs.seeds` and the methods are cut as asked. Then runs the stages one `dvc repro -s` at a
time, measuring each stage's wall time and peak memory (bench/proc_meter.py: RSS of the
stage process and of its largest worker, PSS of them together, GPU memory where there is a
GPU; DVC's own process is left out), and writes the measurements to <folder>/rehearsal.json
(`--render` prints the report of one again, or of several of the same cut combined:
a rehearsal after a fix need only rerun what the fix changed, `combine`). The report: the table, images per second of
training (train images × epochs / the stage's wall time, so start-up and evaluation
included), and the extrapolation to the full preset on this machine (`extrapolate`).
"""
import argparse
import copy
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import pipeline_repo  # noqa: E402
from proc_meter import Peaks  # noqa: E402

PRESET = ROOT / "presets/mufac.yaml"


def merge(base, over):
    out = copy.deepcopy(base)
    for key, value in over.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(
            out.get(key), dict) else copy.deepcopy(value)
    return out


def run_stage(repo, stage):
    import subprocess
    start = time.perf_counter()
    proc = subprocess.Popen([str(pipeline_repo.BIN / "dvc"), "repro", "-s", stage], cwd=repo,
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


def parse_pairs(text):
    return {k: int(v) for k, v in (p.split("=") for p in text.split(","))}



def train_timing(repo, stage):
    """metrics/train/<kind>_<seed>.timing.json of a train_original@/train_retrained@ stage:
    the seconds its fit took (the training epochs and their validation passes)."""
    kind, seed = stage.removeprefix("train_").split("@")
    name = {"original": "original", "retrained": "retrained"}[kind]
    return json.loads((repo / f"metrics/train/{name}_{seed}.timing.json").read_text())["seconds"]


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
    measured = {}
    for stage in stages:
        wall, peaks = run_stage(repo, stage)
        measured[stage] = {"wall": wall, "stage_rss": peaks.stage, "worker_rss": peaks.worker,
                           "total_pss": peaks.total, "gpu": peaks.gpu,
                           "meter_cpu": peaks.cpu_seconds}
        print(f"{stage}: {wall:.1f} s", file=sys.stderr, flush=True)
    out = {
        "machine": machine(), "date": time.strftime("%Y-%m-%d"),
        "command": " ".join(["python bench/mufac_rehearsal.py", *sys.argv[1:]]),
        "minutes": (time.time() - began) / 60, "no_references": args.no_references,
        "image_size": args.image_size, "epochs": args.epochs, "runs": args.runs,
        "workers": args.workers, "methods": args.methods,
        "counts": json.loads((repo / "data/prepared/info.json").read_text())["counts"],
        "full": {"epochs": full["train"]["epochs"], "runs": len(full["runs"]["seeds"]),
                 "rows": list(params["unlearn"]),
                 "trainings": len(full["original"]["seeds"]) + len(full["retrain"]["seeds"])},
        "stages": measured,
        "fit_seconds": {s: train_timing(repo, s) for s in stages if s.startswith("train_")},
        # each run's own seconds, the method alone (the unlearn stage's metrics/timing)
        "method_seconds": {m: statistics.fmean(json.loads(
            (repo / f"metrics/timing/{m}.json").read_text())["seconds"]) for m in rows_run},
    }
    (folder / "rehearsal.json").write_text(json.dumps(out, indent=1) + "\n")
    return out


def extrapolate(m):
    """The full preset's cost on the machine that measured `m`, in seconds.

    A training: its fit × (full epochs / epochs) plus the rest of its stage (start-up, the
    closing logits pass), the mean of those measured; the preset's trainings run `workers`
    at a time. A run of a row: its stage's wall × min(workers, N) / N (the N runs went side
    by side, so this is one run with its set-up and logits pass); the method's own seconds
    in it scale by (full epochs / epochs) for the retrain row (one training) and stay for
    the methods (their budgets are their own keys, not train.epochs). Rows not run: the
    methods at the mean of the methods run, the retrain row (without references) as one
    training. Each row's ⌈N_full / workers⌉ runs one after another; then data, scoring and
    report as measured."""
    scale, stages = m["full"]["epochs"] / m["epochs"], m["stages"]
    workers, n = m["workers"], m["runs"]
    one_training = statistics.fmean(stages[s]["wall"] - fit + fit * scale
                                    for s, fit in m["fit_seconds"].items())
    per_run = {}
    for row, own in m["method_seconds"].items():
        run = stages[f"unlearn@{row}"]["wall"] * min(workers, n) / n
        per_run[row] = own * (scale if row == "retrain" else 1) + max(0.0, run - own)
    methods = [v for r, v in per_run.items() if r not in ("original", "retrain")]
    mean_method = statistics.fmean(methods) if methods else 0.0
    per_run.setdefault("retrain", one_training)
    full_runs = {r: per_run.get(r, mean_method) for r in m["full"]["rows"]}
    at_once = -(-m["full"]["runs"] // workers)   # ⌈N / workers⌉ runs per worker
    out = {"per_run": full_runs, "mean_method": mean_method, "one_training": one_training,
           "training_wall": -(-m["full"]["trainings"] // workers) * one_training,
           "runs_wall": sum(v * at_once for v in full_runs.values()),
           "runs_work": sum(v * m["full"]["runs"] for v in full_runs.values()),
           "other": sum(v["wall"] for s, v in stages.items()
                        if not s.startswith(("train_", "unlearn@")))}
    out["wall"] = out["training_wall"] + out["runs_wall"] + out["other"]
    return out


# what rehearsals must share to be combined into one report: the same cut of the preset
SAME_CUT = ("image_size", "epochs", "runs", "workers", "counts", "full")


def combine(runs):
    """One measurement from rehearsals of the same cut, oldest first (a list of
    rehearsal.json contents): each stage, training fit and method row from the latest run
    that measured it, each stage tagged with its run's letter (A, B, …) and the runs'
    headers under "sources". A rehearsal after a fix need only rerun the stages it changed.
    """
    if len(runs) == 1:
        return runs[0]
    for key in SAME_CUT:
        if any(r[key] != runs[0][key] for r in runs):
            sys.exit(f"error: the rehearsals differ in {key!r} "
                     f"({', '.join(str(r[key]) for r in runs)}); only runs of one cut combine")
    out = copy.deepcopy(runs[-1])
    out["stages"], out["fit_seconds"], out["method_seconds"], out["sources"] = {}, {}, {}, []
    for letter, run in zip("ABCDEFGHIJ", runs):
        out["stages"].update({s: {**v, "run": letter} for s, v in run["stages"].items()})
        out["fit_seconds"].update(run["fit_seconds"])
        out["method_seconds"].update(run["method_seconds"])
        out["sources"].append({"run": letter, **{k: run[k] for k in run if k in HEADER}})
    out["methods"] = list(dict.fromkeys(m for r in runs for m in r["methods"]))
    out["no_references"] = all(r["no_references"] for r in runs)
    return out


def load(paths):
    """The measurement of rehearsal.json files, each one rehearsal or a list of them (the
    committed bench/results/mufac_rehearsal.json), combined oldest first."""
    runs = []
    for path in paths:
        loaded = json.loads(Path(path).read_text())
        runs += loaded if isinstance(loaded, list) else [loaded]
    return combine(runs)


HEADER = ("machine", "date", "command", "minutes", "no_references", "note")


def header(m):
    return (f"on {m['machine']} on {m['date']} with `{m['command']}` ({m['minutes']:.0f} min"
            + ("; no reference models, so no scoring" if m["no_references"] else "")
            + (f"; {m['note']}" if m.get("note") else "") + ")")


def render(m):
    """The report of measurements `m` (one rehearsal, or `combine`d ones), as markdown
    lines."""
    sources = m.get("sources")
    lines = ([f"Measured {header(m)}:"] if not sources else
             [f"Combined from {len(sources)} rehearsals of the same cut; each stage's row is "
              f"from the latest that ran it (column `run`):", "",
              *(f"- {s['run']}: measured {header(s)}" for s in sources)])
    lines += ["",
              f"Rehearsal at {m['counts']} images of {m['image_size']} px, {m['epochs']} "
              f"epoch(s), N = {m['runs']}, methods {', '.join(m['methods'])}, executor.workers "
              f"{m['workers']}; memory in MB: peak RSS of the stage process and of its largest "
              f"worker, peak PSS of the stage process and its workers together", ""]
    on_gpu = any(v["gpu"] for v in m["stages"].values())   # a GPU column only where used
    lines += ["| stage | " + ("run | " if sources else "") + "wall s | stage process (RSS) | "
              "largest worker (RSS) | stage total (PSS) " + ("| GPU total " if on_gpu else "")
              + "| images/s |",
              "|---|---|---|---|---|---|" + ("---|" if on_gpu else "") + ("---|" if sources
                                                                          else "")]
    for stage, v in m["stages"].items():
        rate = (f"{m['counts']['train'] * m['epochs'] / v['wall']:.0f}"
                if stage.startswith("train_") else "")
        gpu = f" {v['gpu']:.0f} |" if on_gpu else ""
        run = f" {v['run']} |" if sources else ""
        lines.append(f"| {stage} |{run} {v['wall']:.1f} | {v['stage_rss']:.0f} | "
                     f"{v['worker_rss']:.0f} | {v['total_pss']:.0f} |{gpu} {rate} |")
    metered = [v for v in m["stages"].values() if "meter_cpu" in v]
    if metered:   # what sampling /proc took from the stages it measured
        share = sum(v["meter_cpu"] for v in metered) / sum(v["wall"] for v in metered)
        lines += ["", f"The memory meter itself used {100 * share:.1f} % of one core."]
    stage, top = max(m["stages"].items(), key=lambda item: item[1]["total_pss"])
    lines += ["", f"Largest stage: {stage}, {top['total_pss']:.0f} MB together (issue 20's "
                  f"target: ≤ 4096 MB per stage with 2 workers)."]
    x, full = extrapolate(m), m["full"]
    rows = ", ".join(f"{r} {x['per_run'][r] / 60:.0f}" for r in full["rows"]
                     if r in m["method_seconds"] or r == "retrain")
    lines += ["", f"Full preset on this machine (extrapolated, not run; `extrapolate` in the "
                  f"script): {full['epochs']} epochs, N = {full['runs']}, {len(full['rows'])} "
                  f"rows, {full['trainings']} trained models. One training "
                  f"{x['one_training'] / 3600:.1f} h; one run in minutes, its logits pass "
                  f"included: {rows}, each other method {x['mean_method'] / 60:.0f} (the mean "
                  f"of those run). On {m['workers']} workers: training "
                  f"{x['training_wall'] / 3600:.1f} h, unlearning runs "
                  f"{x['runs_wall'] / 3600:.1f} h ({x['runs_work'] / 3600:.0f} worker-hours), "
                  f"data, scoring and report {x['other'] / 60:.0f} min: about "
                  f"{x['wall'] / 3600:.0f} h in all."]
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--runs", type=int, default=2, help="N, unlearning runs per method")
    parser.add_argument("--methods", nargs="+", default=["finetune", "neggrad", "ssd", "scrub"])
    parser.add_argument("--families", type=parse_pairs, default={"train": 405, "val": 62,
                                                                  "test": 61})
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2, help="executor.workers")
    parser.add_argument("--forget-count", type=int, help="prepare.forget.count (default: the "
                        "preset's; smaller for a trial of this script on a tiny set)")
    parser.add_argument("--no-references", action="store_true",
                        help="skip the reference models and the retrain row (and so scoring): "
                        "the retrain row is then estimated as one training per run")
    parser.add_argument("--keep", type=Path, help="build the copy here and keep it")
    parser.add_argument("--render", type=Path, nargs="+", metavar="JSON",
                        help="print the report of rehearsal.json files (each one rehearsal or "
                        "a list), combined oldest first (`combine`); run nothing")
    args = parser.parse_args()
    measured = load(args.render) if args.render else measure(args)
    print("\n".join(render(measured)))


if __name__ == "__main__":
    main()
