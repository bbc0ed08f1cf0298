"""Rehearse the real MUFAC run at its full size with the training budget cut, and say what the
full preset would cost on this machine.

    .venv/bin/python bench/mufac_rehearsal.py [--epochs 1] [--runs 2]
        [--methods finetune neggrad ssd scrub] [--families train=405,val=62,test=61]
        [--image-size 128] [--workers 2] [--keep DIR]

Builds a throw-away copy of the project (tests/pipeline_repo.py) with presets/mufac.yaml
applied, except: the data is the synthetic generator's, at MUFAC's size (the family counts
that come closest to 10,025 / 1,539 / 1,504 images) and MUFAC's 128 px; `train.epochs`,
`runs.seeds` and the methods are cut as asked. Then runs the stages one `dvc repro -s` at a
time and prints, per stage: wall time, the peak resident memory (RSS) of the stage's own
process and of its largest worker process, the peak of the stage's processes together
(the sum of their proportional set sizes, PSS: a page shared by k processes, such as
torch's libraries, the parent's memory a forked worker inherits or the memory-mapped
prepared images, counts 1/k in each, so the sum is what the stage holds; DVC's own process
is left out), all sampled from /proc every 0.1 s (a peak shorter than that can be missed),
and images per second of training (train
images × epochs / the stage's wall time, so it includes start-up and evaluation). Last,
the extrapolation to the full preset on this machine: every training stage × (preset epochs
/ epochs), every method × (preset runs / runs), the methods not run at the mean of those that
were, stages side by side as `make repro` runs them (`executor.workers` at a time).
"""
import argparse
import copy
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import pipeline_repo  # noqa: E402

PRESET = ROOT / "presets/mufac.yaml"


def merge(base, over):
    out = copy.deepcopy(base)
    for key, value in over.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(
            out.get(key), dict) else copy.deepcopy(value)
    return out


def tree(pid):
    """pid and every descendant, from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def rss_mb(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def pss_mb(pid):
    """Proportional set size: resident pages, each shared one divided by its sharers."""
    try:
        for line in open(f"/proc/{pid}/smaps_rollup"):
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cmdline(pid):
    try:
        return open(f"/proc/{pid}/cmdline").read().replace("\0", " ")
    except OSError:
        return ""


def gpu_mb():
    """{pid: MB of GPU memory} of every process using a GPU (nvidia-smi); {} without one."""
    if not shutil.which("nvidia-smi"):
        return {}
    import subprocess
    out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory",
                          "--format=csv,noheader,nounits"], capture_output=True, text=True)
    used = {}
    for line in out.stdout.splitlines():
        pid, _, mb = line.partition(",")
        if pid.strip().isdigit() and mb.strip().isdigit():
            used[int(pid)] = used.get(int(pid), 0) + int(mb)
    return used


class Peaks:
    """Samples a process tree's memory until stopped: the RSS of the stage process
    (`python -m stages.`) and of its workers (its descendants), the PSS of the stage
    process and its workers together and, on a GPU machine, their GPU memory together
    (nvidia-smi, every second)."""

    def __init__(self, root_pid):
        self.root, self.stage, self.worker, self.total = root_pid, 0.0, 0.0, 0.0
        self.gpu, self.ticks = 0.0, 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.done.wait(0.1):
            stage = [p for p in tree(self.root) if "-m stages." in cmdline(p)]
            if stage:
                pids = tree(stage[0])
                self.stage = max(self.stage, rss_mb(stage[0]))
                self.worker = max([self.worker] + [rss_mb(p) for p in pids[1:]])
                self.total = max(self.total, sum(pss_mb(p) for p in pids))
                self.ticks += 1
                if self.ticks % 10 == 1:
                    used = gpu_mb()
                    self.gpu = max(self.gpu, sum(used.get(p, 0) for p in pids))

    def stop(self):
        self.done.set()
        self.thread.join()


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
    args = parser.parse_args()
    began = time.time()

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    preset = yaml.safe_load(PRESET.read_text())
    full = merge(params, preset)
    full_epochs, full_runs = full["train"]["epochs"], len(full["runs"]["seeds"])
    all_methods = list(params["unlearn"])
    cut = merge(full, {"data": {"root": params["data"]["root"], "image_size": args.image_size},
                       "generate": {"families": args.families},
                       "train": {"epochs": args.epochs},
                       "runs": {"seeds": list(range(args.runs))},
                       "executor": {"workers": args.workers}})
    rows_run = ["original", *([] if args.no_references else ["retrain"]), *args.methods]
    cut["unlearn"] = {m: {} for m in rows_run}
    if args.forget_count:
        cut["prepare"]["forget"]["count"] = args.forget_count
    overrides = {k: v for k, v in cut.items()}
    folder = args.keep or Path(tempfile.mkdtemp(prefix="mufac-rehearsal-"))
    repo = pipeline_repo.make_repo(folder / "repo", overrides)

    stages = (["check_params", "generate", "prepare"]
              + [f"train_original@{s}" for s in cut["original"]["seeds"]]
              + ([] if args.no_references else [f"train_retrained@{s}"
                                                for s in cut["retrain"]["seeds"]])
              + [f"unlearn@{m}" for m in cut["unlearn"]]
              + ([] if args.no_references else ["score", "report"]))
    rows = {}
    for stage in stages:
        wall, peaks = run_stage(repo, stage)
        rows[stage] = (wall, peaks)
        print(f"{stage}: {wall:.1f} s", file=sys.stderr, flush=True)
    info = json.loads((repo / "data/prepared/info.json").read_text())
    n_train = info["counts"]["train"]

    command = " ".join(["python bench/mufac_rehearsal.py", *sys.argv[1:]])
    print(f"Measured on {machine()} on {time.strftime('%Y-%m-%d')} with `{command}` "
          f"({(time.time() - began) / 60:.0f} min"
          + ("; no reference models, so no scoring)" if args.no_references else ")") + ":\n")
    print(f"Rehearsal at {info.get('counts')} images of {args.image_size} px, "
          f"{args.epochs} epoch(s), N = {args.runs}, methods {', '.join(args.methods)}, "
          f"executor.workers {args.workers}; memory in MB: peak RSS of the stage process and "
          f"of its largest worker, peak PSS of the stage process and its workers together\n")
    on_gpu = any(p.gpu for _, p in rows.values())   # a GPU column only where one was used
    print("| stage | wall s | stage process (RSS) | largest worker (RSS) | stage total (PSS) "
          + ("| GPU total " if on_gpu else "") + "| images/s |")
    print("|---|---|---|---|---|---|" + ("---|" if on_gpu else ""))
    for stage, (wall, p) in rows.items():
        rate = ""
        if stage.startswith("train_") and n_train:
            rate = f"{n_train * args.epochs / wall:.0f}"
        gpu = f" {p.gpu:.0f} |" if on_gpu else ""
        print(f"| {stage} | {wall:.1f} | {p.stage:.0f} | {p.worker:.0f} | {p.total:.0f} |{gpu} "
              f"{rate} |")

    stage, (_, top) = max(rows.items(), key=lambda item: item[1][1].total)
    print(f"\nLargest stage: {stage}, {top.total:.0f} MB together (issue 20's target: "
          f"≤ 4096 MB per stage with 2 workers).")
    train = [w for s, (w, _) in rows.items() if s.startswith("train_")]
    # a method's runs go side by side on the workers: its stage's wall time understates
    # one run's; the stage records each run's own seconds (metrics/timing/<method>.json)
    per_run = {m: statistics.fmean(json.loads((repo / f"metrics/timing/{m}.json").read_text())
                                   ["seconds"]) for m in cut["unlearn"]}
    mean_run = statistics.fmean(v for m, v in per_run.items() if m not in ("original", "retrain"))
    n_train_stages = len(full["original"]["seeds"]) + len(full["retrain"]["seeds"])
    train_full = statistics.fmean(train) * full_epochs / args.epochs * n_train_stages
    # the retrain row's run is one training on the retain set (measured, or as the original's)
    one_training = per_run["retrain"] if "retrain" in per_run else statistics.fmean(train)
    retrain_row = one_training * full_epochs / args.epochs * full_runs
    runs_full = sum(per_run.get(m, mean_run) * full_runs
                    for m in all_methods if m not in ("retrain",)) + retrain_row
    other = sum(w for s, (w, _) in rows.items() if not s.startswith(("train_", "unlearn@")))
    total = train_full + runs_full
    print(f"\nFull preset on this machine (extrapolated, not run): {full_epochs} epochs, "
          f"N = {full_runs}, {len(all_methods)} rows, {n_train_stages} trained model(s): "
          f"training {train_full / 3600:.1f} h, unlearning runs {runs_full / 3600:.1f} h "
          f"(one after another; about {total / 3600 / max(1, args.workers):.1f} h on "
          f"{args.workers} workers), plus {other / 60:.1f} min of data, scoring and report.")


if __name__ == "__main__":
    main()
