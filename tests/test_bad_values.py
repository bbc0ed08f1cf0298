"""No result is lost to a bad value, however it is given: `make repro`, `dvc repro` after
editing params.yaml, `dvc exp run -S`, `tools.apply_preset`. Each path stops with every
problem on its own `error:` line, and every output file of the built tiny pipeline keeps
its bytes. After the value is fixed, nothing but the check stage reruns.
"""
import os
import shutil
import subprocess
import sys

import pytest

from pipeline_repo import BIN, ROOT, copy_repo, dvc, edit_params, env, ran_stages, run

OUTPUTS = ("models", "metrics", "data/prepared", "data/synthetic")
MAKE_FILES = ("Makefile", "requirements.txt", "constraints.txt", "requirements-ray.txt",
              "pyproject.toml")


def snapshot(repo):
    """{path: bytes} of every output file."""
    return {str(p.relative_to(repo)): p.read_bytes()
            for top in OUTPUTS for p in sorted((repo / top).rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = copy_repo(tmp_path_factory.mktemp("bad-values") / "repo")
    return repo, snapshot(repo)


@pytest.fixture
def unchanged(repo):
    """Asserts, after the test, that every output is still there, byte for byte, and that
    the fixed params rerun nothing but the check stage."""
    path, before = repo
    yield path
    after = snapshot(path)
    assert sorted(after) == sorted(before), "outputs removed or added"
    assert [k for k in before if before[k] != after[k]] == []
    run(path, "git", "checkout", "--", "params.yaml")
    assert ran_stages(dvc(path, "repro").stdout, with_check=True) <= {"check_params"}
    assert snapshot(path) == before


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


def test_dvc_exp_run_with_a_bad_value_removes_nothing(unchanged):
    # `+`: the key is new to the section (finetune: {} runs its defaults)
    proc = dvc(unchanged, "exp", "run", "-S", "++unlearn.finetune.lr=-1", check=False)
    assert proc.returncode != 0
    assert "error: unlearn.finetune.lr: must be > 0 and finite, got -1" in proc.stderr + proc.stdout


def test_dvc_repro_lists_every_bad_value_and_removes_nothing(unchanged):
    edit_params(unchanged, device="cdua", compute__threads=0,
                unlearn__finetune={"lr": -1.0, "epochs": "two"})
    proc = dvc(unchanged, "repro", check=False)
    assert proc.returncode != 0
    errors = error_lines(proc.stderr + proc.stdout)
    assert errors == [
        "error: device: expected auto, cpu, cuda or cuda:<index>, got str 'cdua'",
        "error: compute.threads: must be ≥ 1, got 0",
        "error: unlearn.finetune.lr: must be > 0 and finite, got -1.0",
        "error: unlearn.finetune.epochs: expected int, got str 'two'"], errors
    assert ran_stages(proc.stdout, with_check=True) == {"check_params"}


def test_a_device_this_machine_lacks_stops_before_anything_is_removed(unchanged):
    if shutil.which("nvidia-smi"):
        pytest.skip("this machine has a GPU")
    edit_params(unchanged, device="cuda")
    proc = dvc(unchanged, "repro", "unlearn@finetune", check=False)
    assert proc.returncode != 0
    assert "error: device: 'cuda' asked for, but no CUDA device is available" in (
        proc.stderr + proc.stdout)


def test_a_preset_before_its_data_is_in_place_costs_no_prepared_data(unchanged):
    proc = subprocess.run([sys.executable, "-m", "tools.apply_preset",
                           str(ROOT / "presets/mufac.yaml")], cwd=unchanged, env=env(),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr   # applied, with a note that data is missing
    assert "note: data.root: data/mufac/custom_korean_family_dataset_resolution_128 not " \
           "found" in proc.stderr
    assert "python -m tools.fetch_mufac" in proc.stderr   # says how to fetch it
    proc = dvc(unchanged, "repro", "prepare", check=False)
    assert proc.returncode != 0
    assert error_lines(proc.stderr + proc.stdout)[0].startswith(
        "error: data.root: data/mufac/custom_korean_family_dataset_resolution_128 not found")


def test_a_preset_with_a_bad_value_leaves_params_yaml_as_it_was(unchanged):
    before = (unchanged / "params.yaml").read_bytes()
    proc = subprocess.run([sys.executable, "-m", "tools.apply_preset",
                           str(ROOT / "presets/mufac.yaml"), "--set", "unlearn.finetune.lr=-1",
                           "--set", "device=cdua"], cwd=unchanged, env=env(),
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert len(error_lines(proc.stderr)) == 2, proc.stderr
    assert (unchanged / "params.yaml").read_bytes() == before


def test_make_repro_with_a_bad_value_removes_nothing(unchanged):
    for name in MAKE_FILES:
        shutil.copy2(ROOT / name, unchanged / name)
    venv = BIN.parent
    if not (venv / ".installed").is_file():
        pytest.skip("the tests run outside the Makefile's venv")
    edit_params(unchanged, unlearn__finetune={"lr": -1.0})
    # -o: the venv is this one, as installed; make must not rebuild it from the copies
    proc = subprocess.run(["make", "-o", str(venv / ".installed"), "repro", f"VENV={venv}"],
                          cwd=unchanged, env=env(),
                          capture_output=True, text=True)
    assert proc.returncode != 0
    assert "error: unlearn.finetune.lr: must be > 0 and finite, got -1.0" in proc.stderr
    for name in MAKE_FILES:
        os.remove(unchanged / name)
