"""A Ray task's side of a fan-out: build one DVC stage in a workspace of its own.

The workspace is a fresh copy of the project's files (plan.snapshot) in a scratch
folder of the node, set up to use either the main workspace's DVC cache (a shared
filesystem: same path on every node) or the project's default DVC remote. In it:

    dvc checkout <parents>  (or dvc pull)    the stage's inputs, e.g. data/prepared
    dvc repro -s <stage>                     trains; DVC writes outputs and a run-cache entry
    dvc push <stage> + the run-cache entry   only with a remote

Two tasks never share a workspace, and DVC writes cache objects and run-cache entries
under temporary names and renames them, so tasks writing to one cache at once do not
clash. The main workspace is not touched here: a task killed half-way leaves at most
its own scratch folder, which `guard` or the next task on that node removes.
"""
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from unlearn.core.atomic import write_text
from unlearn.core.errors import UserError

from .plan import dvc_env, error_line, ran_stages


@dataclass
class StageTask:
    stage: str      # e.g. "train_retrained@4"
    parents: list   # stages whose outputs it reads


def open_source(snapshot, cache_dir, scratch):
    """Job.setup: what every task of one fan-out shares (kept per Ray worker)."""
    return {"snapshot": snapshot, "cache_dir": cache_dir, "scratch": scratch}


def build_stage(source, task):
    """Job.run: build `task.stage` in a new workspace; timing and where it ran."""
    began = time.perf_counter()
    workspace = new_workspace(source["scratch"], task.stage)
    try:
        with tarfile.open(fileobj=io.BytesIO(source["snapshot"]), mode="r:gz") as tar:
            tar.extractall(workspace, filter="data")
        write_local_config(workspace, source["cache_dir"])
        one_worker(workspace / "params.yaml")
        if task.parents:  # (without targets, dvc would check out or pull everything)
            _dvc(workspace, "checkout" if source["cache_dir"] else "pull", *task.parents)
        start = time.perf_counter()
        out = _dvc(workspace, "repro", "--single-item", task.stage)
        seconds = time.perf_counter() - start
        if not source["cache_dir"]:
            _dvc(workspace, "push", task.stage)
            run_guarded(workspace, sys.executable, "-c", PUSH_RUN_CACHE)
        return {"stage": task.stage, "seconds": seconds, "host": socket.gethostname(),
                "task_seconds": time.perf_counter() - began, "ran": task.stage in ran_stages(out)}
    finally:
        remove_workspace(workspace)
        # again at the end: an attempt killed while this one started may not have been
        # reaped yet then (a zombie still answers kill 0), nor its guard have cleaned up
        remove_dead_workspaces(workspace.parent)


# `dvc push --run-cache` sends the run-cache entries only, not the files of `cache: false`
# metrics and plots that DVC keeps in the cache for the run-cache (DVC 3.67, pinned here),
# so the main workspace could not restore the stage from them. This sends both, with
# DVC's own functions, run in the workspace (the entries' stages are built relative to it).
PUSH_RUN_CACHE = """
from dvc.repo import Repo
with Repo(".") as repo:
    entries = repo.stage_cache.push(None)
    for odb, objs in repo.stage_cache.get_used_objs(entries).items():
        repo.cloud.push(objs, odb=odb)
"""


def one_worker(params_file):
    """The task's stage runs its runs one at a time, in its own process: the fan-out is the
    parallelism (a stage with K workers beside K-1 others would oversubscribe the cores and
    inflate the runs' measured times). `executor` is in no stage's params: no result and no
    run-cache key changes."""
    params = yaml.safe_load(params_file.read_text())
    params["executor"] = {**params.get("executor", {}), "kind": "local", "workers": 1}
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))


def write_local_config(workspace, cache_dir):
    """.dvc/config.local of a task workspace (never shipped: it may hold credentials)."""
    lines = ["[core]", "    no_scm = true",   # a copy of the files, not a git clone
             f"    site_cache_dir = {workspace / '.dvc' / 'site'}",
             "    analytics = false"]
    if cache_dir:  # inputs as links into the cache, whose files DVC keeps read-only
        lines += ["[cache]", f"    dir = {cache_dir}", "    type = reflink,hardlink,symlink,copy"]
    (workspace / ".dvc" / "config.local").write_text("\n".join(lines) + "\n")


def _dvc(workspace, *args):
    return run_guarded(workspace, sys.executable, "-m", "dvc", *args)


def new_workspace(scratch, stage):
    """An empty folder for one attempt at `stage`; removes those of dead attempts (a worker
    killed between two steps leaves its workspace behind)."""
    scratch = Path(scratch or tempfile.gettempdir())
    scratch.mkdir(parents=True, exist_ok=True)
    remove_dead_workspaces(scratch)
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in stage)
    workspace = Path(tempfile.mkdtemp(prefix=f"fanout-{name}-", dir=scratch))
    write_text(workspace / OWNER, str(os.getpid()))   # atomic: a sweep never reads ''
    return workspace


OWNER = ".fanout-owner"   # pid of the Ray worker whose attempt the workspace is
GROUP = ".fanout-group"   # process group of the attempt's latest guarded command (`guard`)


def remove_dead_workspaces(scratch):
    """Remove the workspaces in `scratch` whose attempt's Ray worker is dead. A folder
    without an owner file is one being created (new_workspace writes it next): left."""
    for old in Path(scratch).glob("fanout-*"):
        if old.is_dir() and (old / OWNER).exists() and not _owner_alive(old):
            remove_workspace(old)


def remove_workspace(folder):
    """Remove an attempt's workspace, its owner file last. A removal cut short (the process
    removing it killed: a `guard` when the raylet kills a dead worker's descendants, with
    RAY_kill_child_processes_on_worker_exit_with_raylet_subreaper) then leaves a folder
    that still names its dead owner, and the next `remove_dead_workspaces` finishes
    it; removed owner-first, it would be a partial copy nothing recognises as dead. Two
    processes may remove one workspace at once: what one finds gone the other removed."""
    folder = Path(folder)
    kill_orphaned_command(folder)
    try:
        for entry in [e for e in folder.iterdir() if e.name != OWNER]:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        if any(e.name != OWNER for e in folder.iterdir()):
            return   # something would not go: the owner file stays, for the next sweep
    except FileNotFoundError:
        return
    (folder / OWNER).unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:
        pass   # gone already, or another attempt's removal still emptying it


def kill_orphaned_command(folder):
    """Kill the attempt's dvc command if it outlived its guard: Ray kills a dead worker's
    direct children (RAY_kill_child_processes_on_worker_exit), the guard among them, and
    the command runs in a session of its own. Its process group is the one the guard
    recorded, if its leader still works in `folder` (a reused pid would not)."""
    try:
        leader = int((folder / GROUP).read_text())
        if Path(f"/proc/{leader}/cwd").resolve() == folder.resolve():
            os.killpg(leader, signal.SIGKILL)
    except (OSError, ValueError):
        pass    # no command recorded, or it has ended (no /proc: not Linux, nothing known)


def _owner_alive(folder):
    """Whether the workspace's Ray worker runs. A killed worker that its parent has not
    reaped yet is a zombie: kill(pid, 0) still succeeds, /proc says state Z."""
    try:
        pid = int((folder / OWNER).read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True     # no /proc (not Linux): kill(pid, 0) is all we know


def run_guarded(cwd, *cmd):
    """Run cmd in cwd under `guard`; its output, or a UserError naming the step."""
    here = str(Path(__file__).resolve().parents[1])   # where Ray put this package
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from fanout.build import guard; "
            "guard(sys.argv[2:])")
    # The guard gets a session of its own: Ray kills a dead worker's process group (Ray
    # 2.60, RAY_process_group_cleanup_enabled), which would take the guard with it, maybe
    # before it has stopped the attempt's dvc (which runs on, orphaned) or half-way
    # through removing the workspace. https://docs.ray.io/en/latest/ray-core/user-spawn-processes.html
    proc = subprocess.Popen([sys.executable, "-c", code, here, *cmd], cwd=cwd, env=dvc_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate()
    except BaseException:   # the task interrupted (cancelled, exiting): the guard's SIGTERM
        proc.terminate()    # handler stops the command and removes the workspace
        proc.wait()
        raise
    if proc.returncode != 0:
        step = f"dvc {cmd[3]}" if cmd[1:3] == ("-m", "dvc") else "pushing the run-cache"
        raise UserError(f"{step} failed in its workspace: {error_line(stdout + stderr)}")
    return stdout + stderr


def guard(argv):
    """Run argv in a process group of its own; if our parent dies, end the attempt.

    The parent is the Ray worker running the task. If it is killed (by hand, the OOM
    killer), Ray reruns the task; the dvc and training processes of the dead attempt
    must not go on writing meanwhile, and its workspace (our working directory) goes.
    Should the guard be killed too, it has recorded the command's group (GROUP) for the
    next sweep (`kill_orphaned_command`).
    """
    parent = os.getppid()
    child = subprocess.Popen(argv, start_new_session=True)
    write_text(Path.cwd() / GROUP, str(child.pid))   # for a sweep, if this guard is killed

    def stop(*_):
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        child.wait()
        remove_workspace(os.getcwd())
        sys.exit(137)

    signal.signal(signal.SIGTERM, stop)
    while True:
        try:
            sys.exit(child.wait(timeout=0.2))
        except subprocess.TimeoutExpired:
            if os.getppid() != parent:
                stop()
