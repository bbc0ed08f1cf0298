"""The main workspace's side of a fan-out: which stages, what they need, and DVC commands.

Reads the pipeline through DVC's Python API (the dvc pinned in requirements.txt) and
changes the workspace only through `dvc` commands, as a user would.
"""
import fnmatch
import io
import json
import os
import re
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

from unlearn.core.errors import UserError


def dvc_env():
    """Environment for dvc: this venv's `python` first on PATH (dvc.yaml says `python`)."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["DVC_NO_ANALYTICS"] = "1"
    return env


def error_line(output):
    """The line of a failed command's output that says what went wrong."""
    lines = [l.strip() for l in output.splitlines() if l.strip()]
    marked = [l for l in lines if l.startswith(("ERROR", "error:"))]
    return (marked or lines or ["(no output)"])[-1]


def dvc(root, *args, echo=False):
    """Run `dvc <args>` in root; its output, or a one-line UserError. With echo, its output
    goes to this process's stdout/stderr as it comes (e.g. the stages' own error lines)."""
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=root, env=dvc_env(),
                          capture_output=not echo, text=True)
    if proc.returncode != 0:
        why = "failed (its output above)" if echo else error_line(proc.stdout + proc.stderr)
        raise UserError(f"dvc {' '.join(args)}: {why}")
    return proc.stdout or ""


def ran_stages(output):
    """Stages that a `dvc repro` ran (not those it skipped or took from the run-cache)."""
    return re.findall(r"Running stage '([^']+)'", output)


@dataclass
class Plan:
    targets: list   # stage names, in dvc.yaml order
    parents: dict   # target -> the stages (or .dvc files) producing its dependencies
    cache_dir: str  # the main workspace's DVC cache, absolute


def make_plan(root, patterns):
    """The stages matching the patterns, checked to be buildable elsewhere and taken back."""
    import networkx
    from dvc.repo import Repo
    with Repo(str(root)) as repo:
        stages = {s.addressing: s for s in repo.index.stages}
        for pattern in patterns:
            if not any(fnmatch.fnmatchcase(name, pattern) for name in stages):
                raise UserError(f"fanout: {pattern!r} matches no stage of dvc.yaml")
        targets = [n for n in stages if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
        graph = repo.index.graph   # edges point from a stage to the stages it depends on
        parents = {}
        for name in targets:
            stage = stages[name]
            _check_run_cacheable(name, stage)
            upstream = {s.addressing for s in networkx.descendants(graph, stage)}
            clash = sorted(upstream & set(targets))
            if clash:
                raise UserError(f"fanout: {name} depends on {clash[0]}, also selected; fan out "
                                "one of them first, then the other")
            parents[name] = sorted(s.addressing for s in graph.successors(stage))
        return Plan(targets, parents, str(Path(repo.cache.legacy.path).resolve()))


def _check_run_cacheable(name, stage):
    """DVC keeps a run-cache entry only for stages whose outputs it can restore."""
    if not stage.cmd or stage.always_changed or stage.frozen:
        raise UserError(f"fanout: {name}: only a stage with a command that is neither frozen "
                        "nor always_changed can be taken back from the run-cache")
    for out in stage.outs:
        if out.persist or not (out.use_cache or out.is_metric or out.is_plot):
            raise UserError(
                f"fanout: {name}: output {out.def_path} is `cache: false` (or persist) and "
                "neither a metric nor a plot, so DVC keeps no run-cache entry for the stage; "
                "declare it under metrics/plots or let DVC cache it")


def forget_lock_entries(root, stages):
    """Drop the dvc.lock entries of stages about to be taken from the run-cache (with DVC's own
    Lockfile.remove_stage). With an entry whose deps still match, as in a fresh clone of a
    committed run, `dvc repro` restores from that entry and needs every output it lists in the
    cache, the wall-clock timing files included, which no new run reproduces, so it would run
    the stage again; without one it restores the run-cache entry the task wrote. The stages
    are stale and `dvc repro` writes their entries anew."""
    from dvc.repo import Repo
    with Repo(str(root)) as repo:
        by_name = {s.addressing: s for s in repo.index.stages}
        for name in stages:
            stage = by_name[name]
            stage.dvcfile._lockfile.remove_stage(stage)


def stale(root, targets):
    """The targets that `dvc status` says must be (re)built, in the given order."""
    status = json.loads(dvc(root, "status", "--json", *targets) or "{}")
    return [t for t in targets if t in status]


def default_remote(root):
    name = subprocess.run([sys.executable, "-m", "dvc", "remote", "default"], cwd=root,
                          env=dvc_env(), capture_output=True, text=True).stdout.strip()
    if not name:
        raise UserError("fanout --remote: the project has no default DVC remote "
                        "(dvc remote add -d <name> <url>)")
    return name


def snapshot(root):
    """The project's files as a workspace needs them (tracked ones as they are now, with
    uncommitted edits, and untracked ones git does not ignore), as tar.gz bytes."""
    proc = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                          cwd=root, capture_output=True)
    if proc.returncode != 0:
        raise UserError(f"fanout: {root} is not a git repository; the task workspaces are "
                        "copies of its files")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for rel in sorted(set(proc.stdout.decode().split("\0")) - {""}):
            if os.path.lexists(Path(root) / rel):   # a tracked file deleted in the workspace
                tar.add(Path(root) / rel, arcname=rel, recursive=False)
    return buffer.getvalue()
