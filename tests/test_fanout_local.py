"""`python -m fanout --local`, what `make repro` runs before `dvc repro`: the stale training
stages built side by side in worker processes on this machine (no Ray), each in a workspace
of its own sharing the DVC cache. Afterwards `dvc repro` trains nothing and the outputs are
the bytes of the sequential `dvc repro` that built the tiny repo, also as in a fresh clone of
a committed run (dvc.lock entries in place, no outputs, no cache); a worker killed in the
middle of a stage stops the command with one line and leaves nothing half-written, and
running it again builds what is still stale.
"""
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from pipeline_repo import (copy_repo, deterministic, dvc, env, fanout, forget, lock_outs,
                           ran_stages)

TRAINING = ["train_original@0", "train_retrained@1"]   # one of each family, one per worker


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = copy_repo(tmp_path_factory.mktemp("fanout-local") / "repo")
    return repo, {s: lock_outs(repo, s) for s in TRAINING}


def as_in_a_fresh_clone(repo, stages):
    """The stages' outputs gone from the workspace and from the DVC cache, and no run-cache,
    their committed dvc.lock entries kept (with the wall-clock timing files, which no new run
    reproduces), as after `git clone` and the data stages of `make repro`."""
    repo = Path(repo)
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    for stage in stages:
        for out in lock[stage]["outs"]:
            if not out["path"].endswith(".timing.json"):   # git-tracked, as committed
                target = repo / out["path"]
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            md5 = out["md5"]
            (repo / ".dvc/cache/files/md5" / md5[:2] / md5[2:]).unlink(missing_ok=True)
    shutil.rmtree(repo / ".dvc/cache/runs")


def test_local_fanout_trains_side_by_side_and_dvc_repro_takes_the_results(repo, tmp_path):
    repo, sequential = repo
    as_in_a_fresh_clone(repo, TRAINING)
    proc = fanout(repo, "--local", "train_*", "--scratch", str(tmp_path / "scratch"))
    assert "2 of 4 stage(s) stale, building them as 2 worker(s)" in proc.stdout, proc.stdout
    assert "dvc.lock updated" in proc.stdout
    assert list((tmp_path / "scratch").iterdir()) == []   # every task removed its workspace
    # no training; at most the report, whose cost column reads the new wall times
    assert ran_stages(dvc(repo, "repro").stdout) <= {"report"}
    for stage in TRAINING:
        assert deterministic(lock_outs(repo, stage)) == deterministic(sequential[stage]), stage
    assert "4 stage(s) selected, none stale" in fanout(repo, "--local", "train_*").stdout


def test_local_fanout_refuses_remote_in_one_line(repo):
    repo, _ = repo
    proc = fanout(repo, "--local", "--remote", check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: fanout: --remote is for Ray nodes without this workspace's filesystem; "
        "--local tasks share its DVC cache"]


def _worker_running(stage):
    """pid of the fan-out worker whose task is training `stage` (the parent of the task's
    guard process, fanout/build.py), or None."""
    guards, training = {}, False
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if "fanout.build import guard" in cmd and stage in cmd:
            guards[int(proc.name)] = ppid
        training |= f"stages.train_retrained {stage.split('@')[1]}" in cmd
    return next(iter(guards.values()), None) if training else None


def test_a_killed_worker_stops_it_in_one_line_and_a_rerun_completes(repo, tmp_path):
    repo, _ = repo
    stages = ["train_retrained@2", "train_retrained@3"]   # two: a pool of worker processes
    sequential = {s: lock_outs(repo, s) for s in stages}
    forget(repo, stages)
    scratch = tmp_path / "scratch"
    proc = subprocess.Popen([sys.executable, "-m", "fanout", "--local", "train_retrained@*",
                             "--scratch", str(scratch)], cwd=repo, env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed, deadline = None, time.time() + 300
    while killed is None and time.time() < deadline and proc.poll() is None:
        killed = _worker_running("train_retrained@2")
        if killed:
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.05)
    stdout, stderr = proc.communicate(timeout=300)
    assert killed is not None, stdout + stderr
    assert proc.returncode == 1, stdout + stderr
    assert stderr.strip().splitlines()[-1].startswith(
        "error: executor: worker "), stderr
    assert "died (exit code -9) while running train_retrained@2" in stderr
    time.sleep(1)   # the dead task's guard notices within 0.2 s and removes its workspace
    assert list(scratch.iterdir()) == []
    assert not list(repo.glob("**/.*.tmp"))        # no half-written output in the workspace
    assert lock_outs(repo, "train_retrained@2") is None   # dvc.lock was not touched for it
    again = fanout(repo, "--local", "train_retrained@*", "--scratch", str(scratch))
    assert "dvc.lock updated" in again.stdout
    for stage in stages:
        assert deterministic(lock_outs(repo, stage)) == deterministic(sequential[stage]), stage
