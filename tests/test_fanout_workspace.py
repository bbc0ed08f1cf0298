"""fanout.build's scratch workspaces: a workspace whose Ray worker died is removed by the
next attempt's sweep, also when an earlier removal of it was cut short (the owner file goes
last, so a half-removed workspace still names its dead owner); a live attempt's workspace
and one still being created (no owner file yet) are left alone."""
import os
import shutil
import subprocess
import sys

import pytest

from fanout import build


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def workspace(scratch, name, owner):
    folder = scratch / f"fanout-{name}-x"
    for sub in ("docs", "dvc_templates", "unlearn/core"):
        (folder / sub).mkdir(parents=True)
        (folder / sub / "file.txt").write_text("x")
    (folder / "params.yaml").write_text("a: 1\n")
    if owner is not None:
        (folder / build.OWNER).write_text(str(owner))
    return folder


def test_a_removal_cut_short_is_finished_by_the_next_sweep(tmp_path, monkeypatch):
    folder = workspace(tmp_path, "train_retrained_2", dead_pid())
    real_rmtree, calls = shutil.rmtree, []

    def killed_after_one(path, *args, **kwargs):   # the remover dies after one folder
        if calls:
            raise SystemExit(137)
        calls.append(path)
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", killed_after_one)
    with pytest.raises(SystemExit):
        build.remove_workspace(folder)
    monkeypatch.setattr(shutil, "rmtree", real_rmtree)
    assert calls and (folder / build.OWNER).exists()    # half removed, still owned
    build.remove_dead_workspaces(tmp_path)
    assert not folder.exists()


def test_live_and_unowned_workspaces_stay(tmp_path):
    live = workspace(tmp_path, "a", os.getpid())
    creating = workspace(tmp_path, "b", None)
    dead = workspace(tmp_path, "c", dead_pid())
    build.remove_dead_workspaces(tmp_path)
    assert live.exists() and creating.exists() and not dead.exists()


def test_a_command_that_outlived_its_guard_is_killed_by_the_sweep(tmp_path):
    """Ray killed the worker and the guard with it; the attempt's dvc (a session of its own)
    runs on in the workspace. The sweep kills its group before removing the workspace."""
    folder = workspace(tmp_path, "train_original_0", dead_pid())
    orphan = subprocess.Popen(["sleep", "60"], cwd=folder, start_new_session=True)
    build.write_text(folder / build.GROUP, str(orphan.pid))
    elsewhere = subprocess.Popen(["sleep", "60"], cwd=tmp_path, start_new_session=True)
    other = workspace(tmp_path, "other", dead_pid())   # its recorded pid works elsewhere
    build.write_text(other / build.GROUP, str(elsewhere.pid))
    try:
        build.remove_dead_workspaces(tmp_path)
        assert orphan.wait(timeout=10) == -9
        assert elsewhere.poll() is None                   # a reused pid is not killed
        assert not folder.exists() and not other.exists()
    finally:
        orphan.kill()
        elsewhere.kill()


def test_what_would_not_go_keeps_its_owner_file(tmp_path, monkeypatch):
    folder = workspace(tmp_path, "a", dead_pid())
    monkeypatch.setattr(shutil, "rmtree", lambda *args, **kwargs: None)   # a busy folder
    build.remove_workspace(folder)
    assert (folder / build.OWNER).exists() and (folder / "docs").exists()
