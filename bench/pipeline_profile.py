"""Where the wall time of a default `dvc repro` goes, per stage and per kind of work.

Copies this working tree (tracked and untracked-not-ignored files) into a temporary
folder, runs `dvc repro` there from nothing with UNLEARN_PROFILE set (each stage
process appends its phases, unlearn/core/profiling.py), then a no-op `dvc repro`, and prints:

- per stage: process wall time split into start-up + imports, data loading, the
  method (or training), evaluation/logits, scoring, saving, and the rest;
- in total: the same categories plus DVC's own overhead (the pipeline's wall time
  minus the stage processes' lifetimes: DVC's start-up, hashing, caching, checks).

    python bench/pipeline_profile.py                       # default params
    python bench/pipeline_profile.py --set executor.workers=1 --set unlearn.seeds=[0,1]
    python bench/pipeline_profile.py --readme docs/speed.md    # also rewrite the profile table there
    python bench/pipeline_profile.py --parse run/profile.jsonl --total 200   # an existing record
"""
import argparse
import json
import os
import re
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
    for rec in recs:  # stages run as `python -m stages.<kind> [arg]`
        rec["kind"] = Path(rec["module"]).stem
    return recs


def table(recs, total_wall, noop_wall=None):
    rows, totals = [], dict.fromkeys(CATEGORIES, 0.0)
    stage_sum = 0.0
    for rec in sorted(recs, key=lambda r: r["created"] or r["main"]):
        wall, parts = breakdown(rec)
        stage_sum += wall
        for k, v in parts.items():
            totals[k] += v
        label = rec["kind"] + ("@" + rec["argv"][0] if rec["argv"] else "")
        rows.append((label, wall, parts))
    dvc = max(0.0, total_wall - stage_sum)
    head = "| stage | wall s | " + " | ".join(CATEGORIES) + " |"
    lines = [head, "|---|" + "---|" * (len(CATEGORIES) + 1)]
    for label, wall, parts in rows:
        lines.append(f"| {label} | {wall:.1f} | " + " | ".join(f"{parts[c]:.1f}" for c in CATEGORIES) + " |")
    summary = ["| where the time went | seconds | share |", "|---|---|---|"]
    for c in CATEGORIES:
        summary.append(f"| {c} | {totals[c]:.1f} | {100 * totals[c] / total_wall:.0f} % |")
    summary.append(f"| DVC's own overhead (start-up, hashing, caching) | {dvc:.1f} | {100 * dvc / total_wall:.0f} % |")
    summary.append(f"| **pipeline wall time** (`dvc repro` from nothing) | **{total_wall:.1f}** | "
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


def keep_report_deps(workdir):
    """The report stage's per-method deps for exactly the listed methods (as a user edits
    dvc.yaml after changing unlearn.methods)."""
    methods = yaml.safe_load((workdir / "params.yaml").read_text())["unlearn"]["methods"]
    path = workdir / "dvc.yaml"
    lines = path.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("  report:"))
    pattern = re.compile(r"\s+- metrics/((bootstrap|eps)/)?([a-z0-9_]+)\.(json|csv)$")
    path.write_text("".join(
        line for i, line in enumerate(lines)
        if not (i > start and pattern.match(line) and pattern.match(line).group(3) not in methods)))


def run_pipeline(workdir, overrides):
    copy_tree(workdir)
    if overrides:
        apply_overrides(workdir / "params.yaml", overrides)
        keep_report_deps(workdir)
    env = dict(os.environ, PATH=f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
               UNLEARN_PROFILE=str(workdir / "profile.jsonl"), DVC_NO_ANALYTICS="1")
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    subprocess.run(["git", "init", "-q"], cwd=workdir, check=True)
    subprocess.run(git + ["add", "-A"], cwd=workdir, check=True)
    subprocess.run(git + ["commit", "-qm", "profile"], cwd=workdir, check=True)
    start = time.time()
    subprocess.run(["dvc", "repro", "-q"], cwd=workdir, env=env, check=True)
    total = time.time() - start
    start = time.time()
    subprocess.run(["dvc", "repro", "-q"], cwd=workdir, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    noop = time.time() - start
    return total, noop


def replace_section(readme, text):
    begin, end = "<!-- profile:begin -->", "<!-- profile:end -->"
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
    args = parser.parse_args()
    if args.parse:
        recs = load_records(args.parse)
        total = args.total or sum(breakdown(r)[0] for r in recs)
        noop = None
    else:
        workdir = Path(tempfile.mkdtemp(prefix="unlearn-profile-"))
        try:
            total, noop = run_pipeline(workdir, args.set)
            recs = load_records(workdir / "profile.jsonl")
        finally:
            if args.keep:
                print(f"kept {workdir}", file=sys.stderr)
            else:
                shutil.rmtree(workdir, ignore_errors=True)
    summary, per_stage = table(recs, total, noop)
    cores = len(os.sched_getaffinity(0))
    note = (f"Measured by `python bench/pipeline_profile.py{''.join(' --set ' + s for s in args.set)}` "
            f"on {time.strftime('%Y-%m-%d')}, {cores} cores, {sys.platform}.")
    text = f"{note}\n\n{summary}\n\n<details><summary>per stage</summary>\n\n{per_stage}\n\n</details>"
    print(text)
    if args.readme:
        replace_section(args.readme, text)


if __name__ == "__main__":
    main()
