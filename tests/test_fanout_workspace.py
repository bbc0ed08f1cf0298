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
