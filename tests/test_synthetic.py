"""The synthetic MUFAC stand-in: determinism, layout, naming, families, ages, classes."""
import hashlib
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest
import yaml
from PIL import Image

from unlearn.core.errors import UserError
from unlearn.data.mufac import CLASS_LETTERS, DATASET_DIRNAME, SPLITS
from unlearn.core.sections import GenerateConfig
from unlearn.data.synthetic import family_starts, generate, plan

REPO = Path(__file__).resolve().parents[1]
NAME = re.compile(r"^(F\d{4})_AGE_(GF|GM|F|M|S\d*|D\d*)_(\d+)_([a-h])(\d+)\.(jpg|JPG)$")


def digest(root):
    h = hashlib.sha256()
    for f in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes_other_seed_differs(tiny_mufac, tiny_mufac_cfg, tmp_path):
    generate(tmp_path / "again", tiny_mufac_cfg, progress=False)
    assert digest(tmp_path / "again") == digest(tiny_mufac)
    generate(tmp_path / "other", {**tiny_mufac_cfg, "seed": 8}, progress=False)
    assert digest(tmp_path / "other") != digest(tiny_mufac)


def test_other_split_size_leaves_a_split_unchanged(tiny_mufac_cfg):
    # One RNG stream per family: growing train must not reshuffle val.
    a = plan(tiny_mufac_cfg)["val"]
    b = plan({**tiny_mufac_cfg, "families": {"train": 6, "val": 2, "test": 2}})["val"]
    assert [r["image_path"] for r, *_ in a] == [r["image_path"] for r, *_ in b]


def test_layout_csv_and_names(tiny_mufac):
    for split in SPLITS:
        csv = tiny_mufac / f"custom_{split}_dataset.csv"
        header = csv.read_text().splitlines()[0]
        assert header == ",family_id,person_id,age_class,image_path"  # pandas index column
        df = pd.read_csv(csv, index_col=0)
        assert list(df.index) == list(range(len(df)))
        files = sorted(os.listdir(tiny_mufac / f"{split}_images"))
        assert sorted(df["image_path"]) == files
        for fam, person, letter, name in df[["family_id", "person_id", "age_class", "image_path"]].values:
            m = NAME.match(name)
            assert m, name
            assert (m[1], m[2], m[4]) == (fam, person, letter)
        assert any(n.endswith(".JPG") for n in files)
        with Image.open(tiny_mufac / f"{split}_images" / files[0]) as im:
            assert (im.format, im.mode, im.size) == ("JPEG", "RGB", (128, 128))


def test_families_disjoint_in_mufac_ranges(tiny_mufac):
    fams = {s: set(pd.read_csv(tiny_mufac / f"custom_{s}_dataset.csv")["family_id"]) for s in SPLITS}
    assert min(fams["train"]) == "F0001" and min(fams["val"]) == "F0801"
    assert min(fams["test"]) == "F0851"
    assert not (fams["train"] & fams["val"] or fams["train"] & fams["test"] or fams["val"] & fams["test"])
    assert family_starts({"train": 900, "val": 70, "test": 5}) == {"train": 1, "val": 901, "test": 971}


def test_calibrated_size_persons_at_several_ages_and_all_classes(tiny_mufac_cfg):
    # The size the generator was calibrated at (planning only, nothing is rendered).
    cfg = {**tiny_mufac_cfg, "seed": 0, "families": {"train": 60, "val": 12, "test": 12},
           "persons_per_family": [3, 6], "photos_per_person": [3, 8]}
    plans = plan(cfg)
    assert 1200 <= len(plans["train"]) <= 2200 and 200 <= len(plans["val"]) <= 450
    classes = defaultdict(set)
    for row, *_ in plans["train"]:
        classes[(row["family_id"], row["person_id"])].add(row["age_class"])
    several = sum(len(c) > 1 for c in classes.values())
    assert several / len(classes) > 0.6
    for split in SPLITS:
        assert {r["age_class"] for r, *_ in plans[split]} == set(CLASS_LETTERS), split


@pytest.mark.parametrize("key, value, text", [
    ("families", {"train": 0, "val": 1, "test": 1}, "generate.families.train"),
    ("persons_per_family", [4, 2], "generate.persons_per_family"),
    ("photos_per_person", [0, 2], "generate.photos_per_person"),
    ("label_noise", 1.5, "generate.label_noise"),
    ("families", {"train": 9000, "val": 900, "test": 900}, "do not fit"),
])
def test_bad_config(tiny_mufac_cfg, key, value, text):
    with pytest.raises(UserError, match=re.escape(text)):
        GenerateConfig.parse({**tiny_mufac_cfg, key: value}, "generate")


def run_generate(cwd, cfg):
    (cwd / "params.yaml").write_text(yaml.safe_dump({"device": "auto", "generate": cfg}))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "stages.generate"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_generate_stage_writes_atomically(tiny_mufac, tiny_mufac_cfg, tmp_path, monkeypatch,
                                          capsys):
    stale = tmp_path / "data" / ".synthetic.tmp"
    stale.mkdir(parents=True)                                 # an interrupted earlier run
    r = run_generate(tmp_path, tiny_mufac_cfg)                # the real `python -m` entry
    assert r.returncode == 0, r.stderr
    assert digest(tmp_path / "data/synthetic" / DATASET_DIRNAME) == digest(tiny_mufac)
    assert sorted(os.listdir(tmp_path / "data")) == ["synthetic"]

    (tmp_path / "data/synthetic/notes.txt").write_text("mine")   # never delete foreign files
    from stages import generate as stage
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        stage.main()
    assert exit_.value.code == 1
    assert "generate.out: data/synthetic holds other files (notes.txt)" in capsys.readouterr().err
    assert (tmp_path / "data/synthetic/notes.txt").exists()
    assert sorted(os.listdir(tmp_path / "data")) == ["synthetic"]
