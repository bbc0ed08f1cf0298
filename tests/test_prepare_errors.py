"""The prepare stage: outputs, atomicity, and one clear error per bad input.

Stages are run the way DVC runs them, from a working folder holding params.yaml:
  * in-process: chdir to a tmp folder and call stages.prepare.main() (fast; the same
    entry_point wrapper turns a UserError into one stderr line and exit status 1);
  * as a subprocess: `python -m stages.prepare` with cwd = the tmp folder and
    PYTHONPATH = the repo root, so `stages` and `unlearn` import from this checkout.
Every error case also checks that nothing was created under data/.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from unlearn.data.splits import load_prepared

REPO = Path(__file__).resolve().parents[1]
RANDOM5 = {"mode": "random", "count": 5, "fraction": None, "seed": 0}


def write_params(cwd, root, forget=RANDOM5, selection="val", test="test"):
    params = {"device": "auto",
              "data": {"root": str(root), "image_size": 16, "selection_split": selection,
                       "test_split": test},
              "prepare": {"forget": forget}}
    (cwd / "params.yaml").write_text(yaml.safe_dump(params))


def run_subprocess(cwd):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "stages.prepare"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def run_inprocess(tmp_path, monkeypatch, capsys):
    """Call stages.prepare.main() in tmp_path; returns (exit status, stderr)."""
    from stages import prepare
    monkeypatch.chdir(tmp_path)

    def run():
        try:
            prepare.main([])
            code = 0
        except SystemExit as e:
            code = e.code
        return code, capsys.readouterr().err
    return run


def test_outputs(tiny_mufac, tmp_path):
    stale = tmp_path / "data" / ".prepared.tmp"
    stale.mkdir(parents=True)
    (stale / "junk.pt").write_text("half-written by an interrupted run")
    write_params(tmp_path, tiny_mufac)
    r = run_subprocess(tmp_path)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(tmp_path / "data")) == ["prepared"]
    out = tmp_path / "data" / "prepared"
    assert sorted(os.listdir(out)) == ["duplicates.csv", "forget.pt", "info.json", "manifest.csv",
                                       "retain.pt", "test.pt", "val.pt"]
    splits = load_prepared(out)
    train = pd.read_csv(tiny_mufac / "custom_train_dataset.csv")
    assert len(splits["forget"]) == 5 and len(splits["forget"]) + len(splits["retain"]) == len(train)
    assert not set(splits["forget"].ids) & set(splits["retain"].ids)
    assert splits["val"].images.shape[1:] == (3, 16, 16)
    info = json.loads((out / "info.json").read_text())
    assert info["num_classes"] == 8 and info["image_size"] == 16
    assert info["counts"]["forget"] == 5 and info["counts"]["train"] == len(train)
    assert info["sources"]["test"]["csv"] == "custom_test_dataset.csv"
    assert info["classes"][7] == {"label": 7, "letter": "h", "ages": [67, 80]}
    assert info["forget"]["mode"] == "random"
    manifest = pd.read_csv(out / "manifest.csv")
    assert list(manifest.columns) == ["image_path", "source_csv", "role", "age_class", "person"]
    assert manifest["role"].value_counts()["forget"] == 5
    assert set(manifest["role"]) == {"forget", "retain", "val", "test"}


def test_rerun_replaces_whole_folder(tiny_mufac, tmp_path, run_inprocess):
    write_params(tmp_path, tiny_mufac)
    assert run_inprocess()[0] == 0
    write_params(tmp_path, tiny_mufac, forget={"mode": "identity", "count": 2, "fraction": None,
                                               "seed": 1})
    assert run_inprocess()[0] == 0
    out = tmp_path / "data" / "prepared"
    info = json.loads((out / "info.json").read_text())
    assert info["forget"]["mode"] == "identity" and info["forget"]["persons"] == 2
    assert len(torch.load(out / "forget.pt", weights_only=True)["ids"]) == info["counts"]["forget"]
    assert sorted(os.listdir(tmp_path / "data")) == ["prepared"]


def corrupt_csv(root, split, edit):
    path = root / f"custom_{split}_dataset.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False).drop(columns="Unnamed: 0")
    df = edit(df)
    df.to_csv(path)


def first_image(root, split="train"):
    name = pd.read_csv(root / f"custom_{split}_dataset.csv")["image_path"][0]
    return root / f"{split}_images" / name


def set_cell(row, column, value):
    def edit(df):
        df.loc[row, column] = value
        return df
    return edit


CASES = {
    "missing root": (lambda r: r.rename(r.parent / "elsewhere"), "dataset folder not found"),
    "missing csv": (lambda r: (r / "custom_val_dataset.csv").unlink(),
                    "custom_val_dataset.csv: CSV not found"),
    "missing column": (lambda r: corrupt_csv(r, "train", lambda d: d.drop(columns="age_class")),
                       "custom_train_dataset.csv: missing column 'age_class'"),
    "no rows": (lambda r: corrupt_csv(r, "test", lambda d: d.iloc[:0]),
                "custom_test_dataset.csv: no rows"),
    "unknown class": (lambda r: corrupt_csv(r, "train", set_cell(2, "age_class", "z")),
                      "custom_train_dataset.csv line 4: unknown age_class 'z'"),
    "missing image": (lambda r: first_image(r, "val").unlink(), "is missing"),
    "truncated jpeg": (lambda r: first_image(r).write_bytes(first_image(r).read_bytes()[:700]),
                       "unreadable or corrupt image"),
    "not an image": (lambda r: first_image(r).write_text("not a picture"),
                     "unreadable or corrupt image"),
    "parent path": (lambda r: corrupt_csv(r, "train", set_cell(1, "image_path", "../x.jpg")),
                    "line 3: image_path '../x.jpg' escapes train_images/"),
    "absolute path": (lambda r: corrupt_csv(r, "val", set_cell(0, "image_path", "/etc/passwd")),
                      "line 2: image_path '/etc/passwd' escapes val_images/"),
    "duplicate": (lambda r: corrupt_csv(r, "train", lambda d: pd.concat([d, d.iloc[[0]]],
                                                                      ignore_index=True)),
                  "duplicate image_path"),
    "family crosses": (lambda r: corrupt_csv(r, "test", set_cell(0, "family_id", "F0001")),
                       "family F0001 appears in both custom_train_dataset.csv and "
                       "custom_test_dataset.csv"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_data(case, tiny_mufac_copy, tmp_path, run_inprocess):
    damage, text = CASES[case]
    damage(tiny_mufac_copy)
    write_params(tmp_path, tiny_mufac_copy)
    code, err = run_inprocess()
    assert code == 1 and text in err, err
    assert err.startswith("error: ") and err.count("\n") == 1        # one line
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("forget, roles, text", [
    ({**RANDOM5, "count": 100000}, ("val", "test"), "prepare.forget.count: forget size 100000 exceeds"),
    ({**RANDOM5, "fraction": 0.5}, ("val", "test"), "set exactly one of count and fraction"),
    ({**RANDOM5, "mode": "sideways"}, ("val", "test"), "prepare.forget.mode"),
    ({**RANDOM5, "mode": "identity", "count": 10000}, ("val", "test"), "train persons"),
    (RANDOM5, ("train", "test"), "data.selection_split"),
    (RANDOM5, ("test", "test"), "must name different CSVs"),
])
def test_bad_params(forget, roles, text, tiny_mufac, tmp_path, run_inprocess):
    write_params(tmp_path, tiny_mufac, forget=forget, selection=roles[0], test=roles[1])
    code, err = run_inprocess()
    assert code == 1 and text in err, err
    assert not (tmp_path / "data").exists()


def test_bad_data_subprocess(tiny_mufac_copy, tmp_path):
    damage, text = CASES["truncated jpeg"]
    damage(tiny_mufac_copy)
    write_params(tmp_path, tiny_mufac_copy, forget={**RANDOM5, "count": 100000})
    r = run_subprocess(tmp_path)
    assert r.returncode == 1 and text in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "data").exists()
