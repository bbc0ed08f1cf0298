"""presets/mufac.yaml and tools/apply_preset.py: the real-MUFAC setting, applied and checked.

Nothing here runs the pipeline on MUFAC (the data is not bundled): the preset is applied
to a copy of the project's params.yaml, validated by the params schema, and resolved by
DVC in a throw-away repo.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline_repo import dvc, make_repo, ran_stages, run
from unlearn.validation import validate_all_params as validate_params
from unlearn.training.recipes import PRESETS, resolve_recipe

ROOT = Path(__file__).resolve().parents[1]
PRESET = ROOT / "presets" / "mufac.yaml"


class Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def apply(capsys):
    """`python -m tools.apply_preset ARGS`, in this process (importing torch once)."""
    from tools.apply_preset import main

    def call(*args):
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as e:
            code = e.code
        out = capsys.readouterr()
        return Result(code, out.out, out.err)
    return call


def apply_cli(*args, cwd=ROOT):
    """The command line as the README gives it, in a subprocess."""
    env = dict(os.environ)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "tools.apply_preset", *map(str, args)],
                          cwd=cwd, env=env, capture_output=True, text=True)


def leaves(d, prefix=""):
    """{dotted key: value} of every non-mapping value."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(leaves(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


@pytest.fixture
def params_copy(tmp_path):
    path = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", path)
    return path


def test_mufac_preset_is_the_studys_setting_and_validates(params_copy, apply):
    before_text = params_copy.read_text()
    before = yaml.safe_load(before_text)
    proc = apply(PRESET, "--params", params_copy)
    assert proc.returncode == 0, proc.stderr
    assert "valid" in proc.stdout
    if before["data"]["image_size"] != 128:
        assert f"data.image_size: {before['data']['image_size']} -> 128" in proc.stdout
    after = validate_params(yaml.safe_load(params_copy.read_text()))

    # the study (docs/study.md#setup): 128 px, 200 random forget images, the study recipe for 50
    # epochs keeping the best-validation epoch, N = 10 unlearning runs, one reference
    # retrained model and the local scorer
    assert after["data"]["image_size"] == 128
    assert after["data"]["root"].endswith("custom_korean_family_dataset_resolution_128")
    assert (after["data"]["selection_split"], after["data"]["test_split"]) == ("val", "test")
    forget = after["prepare"]["forget"]
    assert (forget["mode"], forget["count"], forget["fraction"]) == ("random", 200, None)
    recipe = resolve_recipe(after["train"])
    assert recipe == {**PRESETS["study"], "epochs": 50}
    assert recipe["select_best"] is True and recipe["optimizer"] == "adam"
    assert recipe["lr"] == 5e-4 and recipe["weight_decay"] == 5e-3
    seeds = after["runs"]["seeds"]
    assert len(seeds) == len(set(seeds)) == 10
    assert len(after["retrain"]["seeds"]) == 1 and after["score"]["scorer"] == "local"
    from unlearn.methods import method_config
    offset = method_config("retrain", after["unlearn"]["retrain"]).seed_offset  # stays disjoint
    assert not {offset + s for s in seeds} & set(after["retrain"]["seeds"])

    # every key the preset does not name is exactly as before
    overridden = set(leaves(yaml.safe_load(PRESET.read_text())))
    old, new = leaves(before), leaves(after)
    assert {k: v for k, v in old.items() if k not in overridden} == \
           {k: v for k, v in new.items() if k not in overridden}
    # params.yaml's comments survive
    text = params_copy.read_text()
    for line in before_text.splitlines():
        if "#" in line:
            assert line[line.index("#"):].strip() in text, line

    # applying it again changes nothing
    again = apply(PRESET, "--params", params_copy, "--check")
    assert again.returncode == 0, again.stderr
    assert "would change 0 value(s)" in again.stdout


@pytest.mark.parametrize("preset, method, want", [
    ("neggrad_plus_small_scale.yaml", "neggrad_plus",
     {"alpha": 0.95, "bn_mode": "eval", "weight_decay": 0.1, "momentum": 0.0, "epochs": 10}),
    ("neggrad_choi_na.yaml", "neggrad",
     {"lam": 1.0, "optimizer": "sgd", "lr": 0.001, "momentum": 0.0, "weight_decay": 0.0,
      "epochs": 2}),
])
def test_method_presets_apply_and_validate(params_copy, apply, preset, method, want):
    from unlearn.methods import method_config
    proc = apply(ROOT / "presets" / preset, "--params", params_copy)
    assert proc.returncode == 0, proc.stderr
    after = validate_params(yaml.safe_load(params_copy.read_text()))
    cfg = method_config(method, after["unlearn"][method])
    assert {k: getattr(cfg, k) for k in want} == want


def test_set_applies_after_the_preset_and_check_writes_nothing(params_copy, tmp_path, apply):
    original = params_copy.read_bytes()
    root = tmp_path / "elsewhere" / "custom_korean_family_dataset_resolution_128"
    proc = apply(PRESET, "--params", params_copy, "--check", "--set", f"data.root={root}")
    assert proc.returncode == 0, proc.stderr
    assert "data.root: " in proc.stdout and str(root) in proc.stdout
    assert params_copy.read_bytes() == original          # --check: untouched
    proc = apply(PRESET, "--params", params_copy, "--set", f"data.root={root}",
                 "--set", "runs.seeds=[0, 1, 2, 3, 4]")
    assert proc.returncode == 0, proc.stderr
    after = yaml.safe_load(params_copy.read_text())
    assert after["data"]["root"] == str(root)
    assert after["runs"]["seeds"] == [0, 1, 2, 3, 4]
    assert after["data"]["image_size"] == 128           # the preset still applied


@pytest.mark.parametrize("preset, sets, message", [
    ({"train": {"epoch": 50}}, [], "train.epoch: unknown key"),
    ({"data": {"image_size": "128"}}, [], "data.image_size: expected int"),
    ({"unlearn": {"finetune": {"lr": "fast"}}}, [], "unlearn.finetune.lr"),
    ({"prepare": {"forget": {"mode": "everything"}}}, [], "prepare.forget.mode"),
    ({"data": {"image_size": 128}}, ["runs.seeds=[]"], "runs.seeds"),
    ({"data": {"image_size": 128}}, ["image_size"], "expected KEY=VALUE"),
    (["not", "a", "mapping"], [], "expected a mapping"),
])
def test_a_bad_preset_is_one_line_and_leaves_params_untouched(params_copy, tmp_path, apply,
                                                              preset, sets, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(preset))
    original = params_copy.read_bytes()
    proc = apply(bad, "--params", params_copy, *[a for s in sets for a in ("--set", s)])
    assert proc.returncode == 1
    err = proc.stderr.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1, err
    assert message in err, err
    assert "Traceback" not in proc.stderr
    assert params_copy.read_bytes() == original
    assert not list(params_copy.parent.glob(".params.yaml.*"))   # no temporary left


def test_missing_preset_or_params_file_is_named(params_copy, tmp_path, apply):
    proc = apply(tmp_path / "nope.yaml", "--params", params_copy)
    assert proc.returncode == 1 and "nope.yaml: preset not found" in proc.stderr
    proc = apply(PRESET, "--params", tmp_path / "missing.yaml")
    assert proc.returncode == 1 and "missing.yaml: params file not found" in proc.stderr


def test_readme_mufac_steps_on_a_stand_in_dataset(tmp_path, tiny_mufac):
    """The README's steps with a tiny MUFAC-layout folder standing in for the real data:
    `dvc add` it under data/mufac, apply the preset, and `dvc repro prepare` decodes it at
    128 px; DVC resolves the rest of the pipeline from the preset's values."""
    repo = make_repo(tmp_path / "repo", overrides={})
    target = repo / "data/mufac" / tiny_mufac.name
    shutil.copytree(tiny_mufac, target)
    dvc(repo, "add", f"data/mufac/{tiny_mufac.name}")
    run(repo, "git", "add", "data/mufac/.gitignore", f"data/mufac/{tiny_mufac.name}.dvc")
    run(repo, "git", "commit", "-q", "-m", "MUFAC (tracked by DVC)")
    # the stand-in has ~30 train images, too few for the study's 200
    proc = apply_cli(PRESET, "--set", "prepare.forget.count=8", cwd=repo)
    assert proc.returncode == 0, proc.stderr

    stages = dvc(repo, "stage", "list", "--name-only").stdout.split()
    assert "train_retrained@1" in stages
    assert not [s for s in stages if s.startswith("train_retrained@") and s != "train_retrained@1"]
    diff = json.loads(dvc(repo, "params", "diff", "--json").stdout)["params.yaml"]
    assert diff["data.image_size"]["new"] == 128
    seeds = diff["runs.seeds"]["new"]   # dvc shows a list as its text
    assert (yaml.safe_load(seeds) if isinstance(seeds, str) else seeds) == list(range(10))

    out = dvc(repo, "repro", "prepare").stdout
    # not `generate`: the data is MUFAC's; check_params first, as params.yaml changed
    assert ran_stages(out, with_check=True) == {"check_params", "prepare"}, out
    import torch
    forget = torch.load(repo / "data/prepared/forget.pt", weights_only=True)
    assert tuple(forget["images"].shape) == (8, 3, 128, 128)
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]["prepare"]
    assert any(d["path"] == f"data/mufac/{tiny_mufac.name}" for d in lock["deps"])
