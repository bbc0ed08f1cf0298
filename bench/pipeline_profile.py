"""Where the wall time of a default `dvc repro` goes, per stage and per kind of work.

Copies this working tree (tracked and untracked-not-ignored files) into a temporary
folder, runs `dvc repro` there from nothing with UNLEARN_PROFILE set (each stage
process appends its phases, unlearn/core/profiling.py), then a no-op `dvc repro`, and prints:

- per stage: process wall time split into start-up + imports, data loading, the
  method (or training), evaluation/logits, scoring, saving, and the rest;
- in total: the same categories plus DVC's own overhead (the pipeline's wall time
  minus the stage processes' lifetimes: DVC's start-up, hashing, caching, checks).

    python bench/pipeline_profile.py                       # default params
    python bench/pipeline_profile.py --set executor.workers=1 --set runs.seeds=[0,1]
    python bench/pipeline_profile.py --readme docs/speed.md    # also rewrite the profile table there
    python bench/pipeline_profile.py --parse run/profile.jsonl --total 200   # an existing record
    python bench/pipeline_profile.py --make        # `make repro` instead of a bare `dvc repro`

With --make the stale training and unlearning stages run side by side (python -m fanout
--local), so the stage processes' times add up to more than the wall time: the table then
gives each category summed over the processes, and DVC's own overhead cannot be told apart.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CATEGORIES = ["start + imports", "load data", "method / training", "evaluation / logits",
              "workers starting or idle", "scoring", "save", "other"]
PHASE_CATEGORY = {"load data": "load data", "train": "method / training",
                  "method": "method / training",
                  "workers starting or idle": "workers starting or idle",
                  "logits": "evaluation / logits", "save": "save", "scoring": "scoring"}
# Work a stage does outside named phases, by stage kind.
UNNAMED = {"generate": "other", "prepare": "load data", "score": "scoring", "report": "scoring"}


def breakdown(rec):
    """Seconds per category for one stage process."""
    out = dict.fromkeys(CATEGORIES, 0.0)
    wall = rec["end"] - (rec["created"] or rec["main"])
    out["start + imports"] += rec["main"] - (rec["created"] or rec["main"])
    named = 0.0
    for phase, seconds in rec["phases"].items():
        out[PHASE_CATEGORY.get(phase, "other")] += seconds
        named += seconds
    kind = rec["kind"]
    rest = max(0.0, rec["end"] - rec["main"] - named)
    out[UNNAMED.get(kind, "other")] += rest
    return wall, out


def load_records(path):
    recs = [json.loads(line) for line in Path(path).read_text().splitlines()]
    for rec in recs:  # stages run as `python -m stages.<kind> [item] [--path value ...]`
        rec["kind"] = Path(rec["module"]).stem
        # `python -m fanout` (make repro): a wrapper whose stages are recorded on their own
        rec["fanout"] = Path(rec["module"]).parent.name == "fanout"
    return recs


def table(recs, total_wall, noop_wall=None, command="`dvc repro`"):
    rows, totals = [], dict.fromkeys(CATEGORIES, 0.0)
    stage_sum = 0.0
    fanouts = [r for r in recs if r.get("fanout")]
    recs = [r for r in recs if not r.get("fanout")]
    for rec in sorted(recs, key=lambda r: r["created"] or r["main"]):
        wall, parts = breakdown(rec)
        stage_sum += wall
        for k, v in parts.items():
            totals[k] += v
        item = rec["argv"][0] if rec["argv"] and not rec["argv"][0].startswith("-") else None
        label = rec["kind"] + (f"@{item}" if item else "")   # foreach stages: `<kind> <item> --path ...`
        rows.append((label, wall, parts))
    overlapped = stage_sum > total_wall
    dvc = max(0.0, total_wall - stage_sum)
    head = "| stage | wall s | " + " | ".join(CATEGORIES) + " |"
    lines = [head, "|---|" + "---|" * (len(CATEGORIES) + 1)]
    for label, wall, parts in rows:
        lines.append(f"| {label} | {wall:.1f} | " + " | ".join(f"{parts[c]:.1f}" for c in CATEGORIES) + " |")
    summary = ["| where the time went | seconds | share |", "|---|---|---|"]
    base = stage_sum if overlapped else total_wall
    for c in CATEGORIES:
        summary.append(f"| {c} | {totals[c]:.1f} | {100 * totals[c] / base:.0f} % |")
    if overlapped:
        summary.append(f"| all stage processes, summed (they overlapped) | {stage_sum:.1f} | 100 % |")
    else:
        summary.append(f"| DVC's own overhead (start-up, hashing, caching) | {dvc:.1f} | "
                       f"{100 * dvc / total_wall:.0f} % |")
    for rec in fanouts:
        pattern = " ".join(a for a in rec["argv"] if not a.startswith("-"))
        summary.append(f"| `python -m fanout --local '{pattern}'`: wall time, its stages "
                       f"side by side (their processes are counted above) | "
                       f"{breakdown(rec)[0]:.1f} | |")
    summary.append(f"| **pipeline wall time** ({command} from nothing) | **{total_wall:.1f}** | "
                   f"{len(rows)} stage processes |")
    if noop_wall is not None:
        summary.append(f"| no-op `dvc repro` | {noop_wall:.1f} | |")
    return "\n".join(summary), "\n".join(lines)


def copy_tree(dst):
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file() and not src.is_symlink():
            (dst / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / name)


def apply_overrides(params_file, overrides):
    params = yaml.safe_load(params_file.read_text())
    for item in overrides:
        key, _, value = item.partition("=")
        node = params
        *parents, leaf = key.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = yaml.safe_load(value)
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))


def run_pipeline(workdir, overrides, make=False):
    copy_tree(workdir)
    if overrides:
        apply_overrides(workdir / "params.yaml", overrides)
    env = dict(os.environ, PATH=f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
               UNLEARN_PROFILE=str(workdir / "profile.jsonl"), DVC_NO_ANALYTICS="1")
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    subprocess.run(["git", "init", "-q"], cwd=workdir, check=True)
    subprocess.run(git + ["add", "-A"], cwd=workdir, check=True)
    subprocess.run(git + ["commit", "-qm", "profile"], cwd=workdir, check=True)
    venv = ROOT / ".venv"
    # `make repro` with this checkout's venv as installed (-o: make must not rebuild it)
    first = (["make", "-s", "-o", str(venv / ".installed"), "repro", f"VENV={venv}"] if make
             else ["dvc", "repro", "-q"])
    start = time.time()
    subprocess.run(first, cwd=workdir, env=env, check=True,
                   stdout=subprocess.DEVNULL if make else None)
    total = time.time() - start
    start = time.time()
    subprocess.run(["dvc", "repro", "-q"], cwd=workdir, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    noop = time.time() - start
    return total, noop


def replace_section(readme, text, name="profile"):
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    body = Path(readme).read_text()
    if begin not in body or end not in body:
        sys.exit(f"{readme}: markers {begin} / {end} not found")
    head, rest = body.split(begin, 1)
    _, tail = rest.split(end, 1)
    Path(readme).write_text(head + begin + "\n" + text + "\n" + end + tail)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a params.yaml key in the copy (YAML value)")
    parser.add_argument("--parse", help="read an existing profile.jsonl instead of running")
    parser.add_argument("--total", type=float, help="with --parse: the pipeline's wall time")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy")
    parser.add_argument("--readme", help="rewrite the table between the profile markers")
    parser.add_argument("--make", action="store_true",
                        help="run `make repro` (stages side by side) instead of `dvc repro`")
    args = parser.parse_args()
    if args.parse:
        recs = load_records(args.parse)
        total = args.total or sum(breakdown(r)[0] for r in recs)
        noop = None
    else:
        workdir = Path(tempfile.mkdtemp(prefix="unlearn-profile-"))
        try:
            total, noop = run_pipeline(workdir, args.set, make=args.make)
            recs = load_records(workdir / "profile.jsonl")
        finally:
            if args.keep:
                print(f"kept {workdir}", file=sys.stderr)
            else:
                shutil.rmtree(workdir, ignore_errors=True)
    summary, per_stage = table(recs, total, noop, "`make repro`" if args.make else "`dvc repro`")
    cores = len(os.sched_getaffinity(0))
    flags = "".join(" --set " + s for s in args.set) + (" --make" if args.make else "")
    note = (f"Measured by `python bench/pipeline_profile.py{flags}` "
            f"on {time.strftime('%Y-%m-%d')}, {cores} cores, {sys.platform}.")
    text = f"{note}\n\n{summary}\n\n<details><summary>per stage</summary>\n\n{per_stage}\n\n</details>"
    print(text)
    if args.readme:
        replace_section(args.readme, text, "profile-make" if args.make else "profile")


if __name__ == "__main__":
    main()
