"""Build a throw-away git + DVC copy of this project with a tiny config, for pipeline tests."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COPY = ["dvc.yaml", "params.yaml", "stages", "unlearn", "fanout", "tools", "dvc_templates",
        ".gitignore", "docs", "README.md"]   # the docs: tools/method_docs.py rewrites them

# Small enough for seconds per stage; large enough that every stage has real work.
TINY = {
    "generate.families": {"train": 6, "val": 2, "test": 2},
    "data.image_size": 16,
    "prepare.forget.count": 8,
    "train.epochs": 1,
    "train.batch_size": 32,
    "unlearn": {"original": {}, "retrain": {}, "finetune": {}},
    "runs.seeds": [0, 1, 2],
    "retrain.seeds": [1, 2, 3],
}


def set_key(params, dotted, value):
    *parents, last = dotted.split(".")
    node = params
    for p in parents:
        node = node[p]
    node[last] = value


def env():
    e = dict(os.environ)
    e["PATH"] = f"{BIN}{os.pathsep}{e['PATH']}"   # `python` in dvc.yaml = this venv's
    e["DVC_NO_ANALYTICS"] = "1"
    e.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    e["GIT_AUTHOR_NAME"] = e["GIT_COMMITTER_NAME"] = "test"
    e["GIT_AUTHOR_EMAIL"] = e["GIT_COMMITTER_EMAIL"] = "test@example.com"
    return e


def run(cwd, *args, check=True):
    proc = subprocess.run(list(args), cwd=cwd, env=env(), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def dvc(cwd, *args, check=True):
    return run(cwd, str(BIN / "dvc"), *args, check=check)


def ran_stages(output, with_check=False):
    """Stage names that `dvc repro` actually ran (not the ones it skipped). The check_params
    stage runs on every change to params.yaml and writes the same bytes, rerunning nothing
    by itself; left out unless `with_check` (tests/test_bad_values.py checks it)."""
    ran = set(re.findall(r"Running stage '([^']+)'", output))
    return ran if with_check else ran - {"check_params"}


def edit_params(repo, **overrides):
    path = Path(repo) / "params.yaml"
    params = yaml.safe_load(path.read_text())
    for key, value in overrides.items():
        set_key(params, key.replace("__", "."), value)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def copy_code(dest, skip=()):
    """This project's files (COPY, less `skip`) into `dest`, replacing what is there."""
    for name in COPY:
        src, to = ROOT / name, Path(dest) / name
        if name in skip:
            continue
        if src.is_dir():
            shutil.rmtree(to, ignore_errors=True)
            shutil.copytree(src, to, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, to)


def make_repo(dest, overrides=TINY):
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    copy_code(dest)
    params = yaml.safe_load((dest / "params.yaml").read_text())
    for key, value in overrides.items():
        set_key(params, key, value)
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(dest, "git", "init", "-q", "-b", "main")
    dvc(dest, "init", "-q")
    shutil.copy2(ROOT / ".dvcignore", dest / ".dvcignore")   # byte-code is not a dependency
    dvc(dest, "config", "core.analytics", "false")
    run(dest, "git", "add", "-A")
    run(dest, "git", "commit", "-q", "-m", "tiny pipeline")
    return dest


def commit(repo, message):
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", message)


_BUILT = {}
BUILT_MARK = "built.json"   # beside the built repo: written last, so its presence means done


def set_build_folder(folder):
    """Where built_tiny_repo builds (conftest.py: pytest's temporary folder of this run, the
    one all xdist workers share, so the tiny pipeline is built once per run, not per worker)."""
    _BUILT["folder"] = Path(folder)


def built_tiny_repo():
    """A tiny repo after one full `dvc repro` and a commit, built once per test run.

    Tests take their own copy (`copy_repo`), so each starts from the same committed state
    without paying for the pipeline again. The first worker process to need it builds it
    under a file lock; the others wait and use it. pytest removes the folder with its other
    temporary folders of old runs.
    """
    if "path" not in _BUILT:
        import fcntl
        import json
        import tempfile
        folder = _BUILT.get("folder") or Path(tempfile.mkdtemp(prefix="tiny-pipeline-"))
        folder.mkdir(parents=True, exist_ok=True)
        repo, mark = folder / "tiny-pipeline" / "repo", folder / "tiny-pipeline" / BUILT_MARK
        with open(folder / "tiny-pipeline.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)   # released when the file closes
            if not mark.is_file():
                shutil.rmtree(repo.parent, ignore_errors=True)   # a build that died half-way
                make_repo(repo)
                out = dvc(repo, "repro").stdout
                commit(repo, "first run")
                mark.write_text(json.dumps(sorted(ran_stages(out))))
        _BUILT["first_run"] = set(json.loads(mark.read_text()))
        _BUILT["path"] = repo
    return _BUILT["path"]


def copy_repo(dest):
    """A private copy of the built tiny repo (git history, DVC cache and outputs)."""
    shutil.copytree(built_tiny_repo(), dest, symlinks=True)
    return Path(dest)


def lock_outs(repo, stage):
    """{path: md5} of a stage's outputs in dvc.lock (None if the stage has no entry)."""
    entry = yaml.safe_load((Path(repo) / "dvc.lock").read_text())["stages"].get(stage)
    return entry and {o["path"]: o["md5"] for o in entry["outs"]}


def deterministic(outs):
    """Outputs that are the same bytes for the same params: all but wall-clock timings."""
    return {p: md5 for p, md5 in outs.items() if not p.endswith(".timing.json")}


def forget(repo, stages):
    """Make stages as if never run: no dvc.lock entry, no outputs, no run-cache at all."""
    path = Path(repo) / "dvc.lock"
    lock = yaml.safe_load(path.read_text())
    for stage in stages:
        for out in lock["stages"].pop(stage)["outs"]:
            target = Path(repo) / out["path"]
            shutil.rmtree(target) if target.is_dir() else target.unlink()
    path.write_text(yaml.safe_dump(lock, sort_keys=False))
    shutil.rmtree(Path(repo) / ".dvc" / "cache" / "runs", ignore_errors=True)


def fanout(repo, *args, check=True):
    proc = subprocess.run([sys.executable, "-m", "fanout", *args], cwd=repo, env=env(),
                          capture_output=True, text=True, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc
