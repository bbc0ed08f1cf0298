"""unlearn@<method> on a pool of workers, through DVC, on the tiny pipeline: the outputs do
not depend on the number of workers, the executor is not a reason to rerun, and a worker
killed mid-run leaves nothing half-written and a rerun gives the uninterrupted bytes."""
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from pipeline_repo import BIN, copy_repo, dvc, edit_params, env, ran_stages
from unlearn.core.executor import usable_cores

pytestmark = pytest.mark.skipif(usable_cores() < 2, reason="needs two cores for two workers")


def out_hash(repo, path):
    lock = yaml.safe_load((Path(repo) / "dvc.lock").read_text())
    return next(o["md5"] for s in lock["stages"].values() for o in s.get("outs", [])
                if o["path"] == path)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return copy_repo(tmp_path_factory.mktemp("parallel") / "repo")


def test_one_worker_gives_the_bytes_of_two(repo):
    two = out_hash(repo, "models/unlearned/finetune")   # built with workers: auto (2 here)
    edit_params(repo, executor__workers=1)
    try:
        assert ran_stages(dvc(repo, "repro").stdout) == set()  # where runs go is not a param
        out = dvc(repo, "repro", "-f", "-s", "unlearn@finetune").stdout
        assert "3 runs from 1 original(s) on 1 worker(s)" in out
        assert out_hash(repo, "models/unlearned/finetune") == two
    finally:   # the next tests expect two workers
        edit_params(repo, executor__workers=2)


def _children(pid):
    """(pid, CPU seconds) of the processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
                found.append((int(entry.name), cpu))
    return found


def _is_stage_process(pid):
    """A Python process running `stages.unlearn` (not the shell that may have started it)."""
    try:
        comm = (Path("/proc") / str(pid) / "comm").read_text()
        cmdline = (Path("/proc") / str(pid) / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return comm.startswith("python") and "stages.unlearn" in cmdline


def _workers_of_stage(proc):
    """(pid, CPU seconds) of the worker processes of the stage that `dvc repro` started. DVC
    runs the stage's command through $SHELL, which may or may not exec it (the CI's did not),
    so the stage is the topmost Python process below dvc; its workers are its children."""
    frontier, stages = [proc.pid], []
    while frontier:
        children = [p for parent in frontier for p, _ in _children(parent)]
        stages = [p for p in children if _is_stage_process(p)]
        if stages:
            break
        frontier = children
    return [c for s in stages for c in _children(s)]


def test_a_killed_worker_fails_the_stage_and_a_rerun_gives_uninterrupted_bytes(repo):
    uninterrupted = out_hash(repo, "models/unlearned/finetune")   # the built repo's, same params
    # -f -s: this stage alone, again (a run of about 3 s per seed, long enough to be killed)
    proc = subprocess.Popen([str(BIN / "dvc"), "repro", "-f", "-s", "unlearn@finetune"], cwd=repo,
                            env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed, deadline = None, time.time() + 120
    while killed is None and time.time() < deadline and proc.poll() is None:
        busy = [(pid, cpu) for pid, cpu in _workers_of_stage(proc) if cpu >= 0.5]
        if busy:  # a forked worker that has computed for 0.5 s is inside a run
            killed = busy[0][0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.05)
    stdout, stderr = proc.communicate(timeout=120)
    assert killed is not None, stdout + stderr
    assert proc.returncode != 0
    lines = [line for line in stderr.splitlines() if line.startswith("error: executor")]
    assert len(lines) == 1, stderr
    assert "died (exit code -9) while running unlearn@finetune seed" in lines[0]
    leftovers = [p for p in (repo / "models/unlearned").iterdir() if p.name.startswith(".")]
    assert not (repo / "models/unlearned/finetune").exists() and not leftovers
    assert not (repo / "metrics/timing/finetune.json").exists()

    dvc(repo, "repro")   # completes what the kill interrupted
    assert out_hash(repo, "models/unlearned/finetune") == uninterrupted
