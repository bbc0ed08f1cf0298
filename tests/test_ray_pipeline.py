"""The tiny pipeline on a real Ray cluster on 127.0.0.1 (conftest.ray_cluster):

- `python -m fanout` trains the stale reference models as Ray tasks, each in a
  workspace of its own sharing the DVC cache; afterwards `dvc repro` trains nothing and
  the outputs are the bytes of the sequential `dvc repro` that built the repo;
- unlearn@finetune with `executor.kind: ray` writes the bytes of `kind: local`;
- a Ray worker killed in the middle of a training stage (through a DVC remote this time):
  Ray reruns the task, nothing half-written is left, the bytes are the same;
- an address where no Ray cluster listens: one line naming it, exit 1, within 30 s.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline_repo import (copy_repo, deterministic, dvc, edit_params, env, forget, lock_outs,
                           fanout, ran_stages, run)
from ray_cluster import free_port

SEEDS = ["train_retrained@1", "train_retrained@2", "train_retrained@3"]


@pytest.fixture(scope="module")
def repo(tmp_path_factory, ray_cluster):
    repo = copy_repo(tmp_path_factory.mktemp("ray") / "repo")
    sequential = {s: lock_outs(repo, s) for s in SEEDS}
    edit_params(repo, executor__address=ray_cluster.address)   # uncommitted: tasks see it too
    return repo, sequential


def test_fanout_trains_on_ray_and_dvc_repro_takes_the_results(repo, tmp_path):
    repo, sequential = repo
    forget(repo, SEEDS)
    proc = fanout(repo, "--scratch", str(tmp_path / "scratch"))
    assert "3 of 3 stage(s) stale, building them as Ray tasks on the Ray cluster at" in proc.stdout
    assert "restored in" in proc.stdout and "dvc.lock updated" in proc.stdout
    assert list((tmp_path / "scratch").iterdir()) == []   # every task removed its workspace
    # no training; only the report, whose cost column reads the new trainings' wall times
    assert ran_stages(dvc(repo, "repro").stdout) <= {"report"}
    for stage in SEEDS:
        assert deterministic(lock_outs(repo, stage)) == deterministic(sequential[stage]), stage
    assert "up to date" in dvc(repo, "status").stdout
    again = fanout(repo)
    assert "3 stage(s) selected, none stale" in again.stdout


def test_unlearn_on_ray_gives_the_bytes_of_the_local_executor(repo):
    repo, _ = repo
    local = lock_outs(repo, "unlearn@finetune")["models/unlearned/finetune"]
    edit_params(repo, executor__kind="ray")
    try:
        assert ran_stages(dvc(repo, "repro").stdout) == set()  # the executor is not a param
        out = dvc(repo, "repro", "-f", "-s", "unlearn@finetune").stdout
        assert "3 runs from 1 original(s) on Ray tasks on the Ray cluster at 127.0.0.1:" in out
        assert lock_outs(repo, "unlearn@finetune")["models/unlearned/finetune"] == local
    finally:
        edit_params(repo, executor__kind="local")


def test_a_worker_killed_mid_stage_is_rerun_and_nothing_half_written_stays(repo, ray_cluster,
                                                                             tmp_path):
    repo, sequential = repo
    run(repo, str(Path(sys.executable).parent / "dvc"), "remote", "add", "-d", "-f", "shared",
        str(tmp_path / "remote"))
    forget(repo, ["train_retrained@2"])
    proc = subprocess.Popen([sys.executable, "-m", "fanout", "--remote", "--scratch",
                             str(tmp_path / "scratch")], cwd=repo, env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed, training, deadline = None, None, time.time() + 300
    while killed is None and time.time() < deadline and proc.poll() is None:
        workers = ray_cluster.worker_pids("Slot.run")   # a Ray slot running its task
        stage = [p for p, cmd in ray_cluster.processes().items() if "stages.train_retrained" in cmd]
        if workers and stage:  # the task's `dvc repro` is training: kill its Ray worker
            os.kill(workers[0], signal.SIGKILL)
            killed, training = workers[0], stage[0]
        time.sleep(0.05)
    stdout, stderr = proc.communicate(timeout=600)
    assert killed is not None, stdout + stderr
    assert proc.returncode == 0, stdout + stderr   # Ray ran the task again (max_retries: 3)
    assert not Path(f"/proc/{training}").exists()  # the dead attempt's training was stopped
    assert list((tmp_path / "scratch").iterdir()) == [], stdout + stderr
    assert not list(repo.glob("**/.*.tmp"))        # no half-written output in the workspace
    ran = ran_stages(dvc(repo, "repro").stdout)    # (score may: an earlier test reran
    assert not {s for s in ran if s.startswith("train_")}, ran   # unlearn@finetune's timings)
    after = lock_outs(repo, "train_retrained@2")
    assert deterministic(after) == deterministic(sequential["train_retrained@2"])
    again = fanout(repo, "--remote")                # running it again: nothing left to do
    assert "none stale" in again.stdout and lock_outs(repo, "train_retrained@2") == after


def test_an_unreachable_address_fails_in_one_line_within_30_s(repo, ray_cluster):
    repo, _ = repo
    address = f"127.0.0.1:{free_port()}"   # nothing listens there
    before = lock_outs(repo, "unlearn@finetune")
    runs = (repo / "models/unlearned/finetune/runs.npz").read_bytes()
    edit_params(repo, executor__kind="ray", executor__address=address)
    try:
        start = time.time()
        proc = subprocess.run([sys.executable, "-m", "stages.unlearn", "finetune"], cwd=repo,
                              env=env(), capture_output=True, text=True, timeout=60)
        assert time.time() - start < 30
    finally:
        edit_params(repo, executor__kind="local", executor__address=ray_cluster.address)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"error: executor.address: no Ray cluster answers at {address} (Connection refused)"]
    assert (repo / "models/unlearned/finetune/runs.npz").read_bytes() == runs
    assert lock_outs(repo, "unlearn@finetune") == before
