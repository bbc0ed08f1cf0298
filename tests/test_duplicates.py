"""The duplicate and leak audit: what counts as a copy, which pairs are listed, what `drop`
removes, and the prepare stage's outputs and errors on data with planted copies."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from unlearn.core.errors import UserError
from unlearn.core.sections import PrepareConfig
from unlearn.data.duplicates import COLUMNS, audit, fingerprint
from unlearn.data.splits import load_prepared
from unlearn.data.synthetic import generate

REPO = Path(__file__).resolve().parents[1]
CFG = {"seed": 3, "out": "data/synthetic", "families": {"train": 6, "val": 2, "test": 2},
       "persons_per_family": [2, 3], "photos_per_person": [2, 3], "label_noise": 0.0,
       "duplicates": {"within_train": 8, "across_splits": 4, "reencoded": 0.5}}


def fp(digest, *flips, like=None):
    """A fingerprint: pixel digest `digest`, and a pHash drawn at random for the photo `like`
    (default: the digest, so different digests are unrelated photos, ~128 bits apart) with
    the bits `flips` flipped."""
    rng = np.random.default_rng(list((like or digest).encode()))
    words = [int(w) for w in rng.integers(0, 2**63, 4)]
    for b in flips:
        words[b // 64] ^= 1 << (b % 64)
    return digest, tuple(words)


def splits_of(**named):
    return {s: ([n for n, _ in named.get(s, [])], [f for _, f in named.get(s, [])])
            for s in ("forget", "retain", "val", "test")}


def test_exact_and_near_pairs_within_and_across_splits():
    found = audit(splits_of(
        forget=[("f1", fp("A")), ("f2", fp("B", 1, 2, 3))],
        retain=[("r1", fp("A")), ("r2", fp("C", *range(30), like="B")), ("r3", fp("D", 1, 2, 3, 4, 5, like="B"))],
        val=[("v1", fp("E"))],
        test=[("t1", fp("A"))]), near_threshold=2)
    rows = [tuple(r) for r in found.pairs.itertuples(index=False)]
    assert list(found.pairs.columns) == list(COLUMNS)
    assert rows == [("forget", "f1", "retain", "r1", "exact", 0),
                    ("forget", "f1", "test", "t1", "exact", 0),
                    ("forget", "f2", "retain", "r3", "near", 2),
                    ("retain", "r1", "test", "t1", "exact", 0)]
    assert found.counts() == {
        "policy": "report", "near_threshold": 2, "exact_pairs": 3, "near_pairs": 1,
        "forget_retain_pairs": 2, "cross_split_pairs": 4, "dropped": 0,
        "dropped_by_split": {"forget": 0, "retain": 0, "val": 0, "test": 0}}
    assert audit(splits_of(forget=[("f2", fp("B", 1, 2, 3))], retain=[("r3", fp("D", 1, 2, 3, 4, 5, like="B"))],
                           val=[("v", fp("V"))], test=[("t", fp("T"))]),
                 near_threshold=1).pairs.empty    # 2 bits apart: not within 1


def test_drop_removes_the_copies_that_leak_and_keeps_the_others():
    found = audit(splits_of(
        forget=[("f1", fp("A"))],
        retain=[("r1", fp("A")), ("r2", fp("R")), ("r3", fp("R")), ("r4", fp("S"))],
        val=[("v1", fp("R")), ("v2", fp("V")), ("v3", fp("W"))],
        test=[("t1", fp("V")), ("t2", fp("T"))]), near_threshold=0, policy="drop")
    # f1 ~ r1: r1 goes; r2 ~ r3 (both retain) stay; v1 copies retain: goes; v2 ~ t1 (val ~ test) stay
    assert found.dropped == {"retain": [0], "val": [0]}
    assert found.counts()["dropped"] == 2


def test_drop_that_would_empty_a_split_is_refused():
    with pytest.raises(UserError, match=r"^prepare\.duplicates: drop would remove all 1 "
                                        r"images of test"):
        audit(splits_of(forget=[("f", fp("A"))], retain=[("r", fp("B"))], val=[("v", fp("V"))],
                        test=[("t", fp("B"))]), near_threshold=0, policy="drop")


def test_a_byte_copy_is_exact_a_reencoded_copy_is_near_another_photo_is_far(tmp_path):
    counts, planted = generate(tmp_path / "d", {**CFG, "duplicates": {"within_train": 0,
                                                "across_splits": 0, "reencoded": 0}}, progress=False)
    folder = tmp_path / "d" / "train_images"
    a, b = sorted(folder.iterdir())[:2]
    with Image.open(a) as im:
        im.convert("RGB").save(tmp_path / "re.jpg", "JPEG", quality=75)
    shutil.copyfile(a, tmp_path / "copy.jpg")

    def print_of(path):
        with Image.open(path) as im:
            return fingerprint(im.convert("RGB"))

    def bits(x, y):
        return sum(bin(p ^ q).count("1") for p, q in zip(x[1], y[1]))
    original, copy, re, other = map(print_of, (a, tmp_path / "copy.jpg", tmp_path / "re.jpg", b))
    assert copy == original
    assert re[0] != original[0]
    assert bits(re, original) <= PrepareConfig().near_threshold < bits(other, original)


def write_params(cwd, root, policy="report", threshold=16, forget=None):
    forget = forget or {"mode": "random", "count": None, "fraction": 0.5, "seed": 0}
    (cwd / "params.yaml").write_text(yaml.safe_dump({
        "device": "auto",
        "data": {"root": str(root), "image_size": 16, "selection_split": "val", "test_split": "test"},
        "prepare": {"forget": forget, "duplicates": policy, "near_threshold": threshold}}))


def prepare(cwd):
    return subprocess.run([sys.executable, "-m", "stages.prepare"], cwd=cwd, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """(dataset root, the planted copies) of a small synthetic set with copies in it."""
    root = tmp_path_factory.mktemp("planted") / "custom_korean_family_dataset_resolution_128"
    _, copies = generate(root, CFG, progress=False)
    return root, copies


def test_the_audit_finds_exactly_the_planted_copies(planted, tmp_path):
    root, copies = planted
    write_params(tmp_path, root)
    r = prepare(tmp_path)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "data/prepared"
    pairs = pd.read_csv(out / "duplicates.csv")
    assert list(pairs.columns) == list(COLUMNS)
    assert set(pairs["split_a"]) | set(pairs["split_b"]) <= {"forget", "retain", "val", "test"}
    found = {(frozenset((a, b)), kind) for a, b, kind in zip(pairs.image_a, pairs.image_b, pairs.kind)}
    assert found == {(frozenset((c["source"], c["image"])), c["kind"]) for c in copies}
    assert {c["kind"] for c in copies} == {"exact", "near"}
    info = json.loads((out / "info.json").read_text())["duplicates"]
    assert info["exact_pairs"] == sum(c["kind"] == "exact" for c in copies)
    assert info["near_pairs"] == sum(c["kind"] == "near" for c in copies)
    assert info["cross_split_pairs"] == int((pairs.split_a != pairs.split_b).sum()) >= 4
    assert info["forget_retain_pairs"] > 0 and info["dropped"] == 0
    assert set(pd.read_csv(out / "manifest.csv")["role"]) == {"forget", "retain", "val", "test"}


def test_drop_removes_what_leaks_and_says_so(planted, tmp_path):
    root, _ = planted
    write_params(tmp_path, root, policy="drop")
    r = prepare(tmp_path)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "data/prepared"
    pairs = pd.read_csv(out / "duplicates.csv")
    leaks = pairs[((pairs.split_a == "forget") & pairs.split_b.isin(["retain", "val", "test"]))
                  | (pairs.split_a.isin(["forget", "retain"]) & pairs.split_b.isin(["val", "test"]))]
    gone = set(zip(leaks.split_b, leaks.image_b))
    splits = load_prepared(out)
    for name in ("retain", "val", "test"):
        assert not {i for s, i in gone if s == name} & set(splits[name].ids)
    manifest = pd.read_csv(out / "manifest.csv")
    assert set(manifest[manifest.role == "dropped"].image_path) == {i for _, i in gone}
    info = json.loads((out / "info.json").read_text())
    assert info["duplicates"]["dropped"] == len(gone) > 0
    assert info["counts"]["retain"] + info["counts"]["forget"] + \
        info["duplicates"]["dropped_by_split"]["retain"] == info["counts"]["train"]
    assert f"dropped {len(gone)}" in r.stdout


@pytest.mark.parametrize("dup, message", [
    ({"policy": "keep", "near_threshold": 16},
     "prepare.duplicates: must be one of 'report', 'drop', got 'keep'"),
    ({"policy": {"policy": "drop"}, "near_threshold": 16},
     "prepare.duplicates: must be one of 'report', 'drop', got {'policy': 'drop'}"),
    ({"policy": "report", "near_threshold": 65},
     "prepare.near_threshold: expected an integer number of bits in 0..64, got 65"),
    ({"policy": "report", "near_threshold": -1},
     "prepare.near_threshold: expected an integer number of bits in 0..64, got -1"),
    ({"policy": "report", "near_threshold": 2.5},
     "prepare.near_threshold: expected int, got float 2.5"),
])
def test_bad_duplicates_params_are_one_line_and_write_nothing(planted, tmp_path, dup, message):
    write_params(tmp_path, planted[0], policy=dup["policy"], threshold=dup["near_threshold"])
    r = prepare(tmp_path)
    assert r.returncode == 1 and r.stderr.splitlines() == [f"error: {message}"]
    assert not (tmp_path / "data").exists()


def test_a_drop_that_empties_a_split_is_one_line_and_writes_nothing(planted, tmp_path):
    root = tmp_path / "mufac" / planted[0].name
    shutil.copytree(planted[0], root)
    train = sorted((root / "train_images").iterdir())
    for k, image in enumerate(sorted((root / "test_images").iterdir())):
        shutil.copyfile(train[k], image)          # every test photo is now a train photo
    write_params(tmp_path, root, policy="drop")
    r = prepare(tmp_path)
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1
    assert r.stderr.startswith("error: prepare.duplicates: drop would remove all ")
    assert "images of test" in r.stderr
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("dup, key", [
    ({"within_train": -1, "across_splits": 0, "reencoded": 0.0}, "within_train"),
    ({"within_train": 0, "across_splits": 0, "reencoded": 1.5}, "reencoded"),
])
def test_bad_planting_params_name_the_key(tmp_path, dup, key):
    with pytest.raises(UserError, match=rf"^generate\.duplicates\.{key}: "):
        generate(tmp_path / "d", {**CFG, "duplicates": dup}, progress=False)


def test_planting_leaves_the_other_photos_as_they_were(tmp_path):
    plain = tmp_path / "plain"
    generate(plain, {**CFG, "duplicates": {"within_train": 0, "across_splits": 0, "reencoded": 0}},
             progress=False)
    _, copies = generate(tmp_path / "planted", CFG, progress=False)
    names = {c["image"] for c in copies}
    for split in ("train", "val", "test"):
        for path in (plain / f"{split}_images").iterdir():
            assert path.read_bytes() == (tmp_path / "planted" / f"{split}_images" / path.name).read_bytes()
        extra = {p.name for p in (tmp_path / "planted" / f"{split}_images").iterdir()} - \
            {p.name for p in (plain / f"{split}_images").iterdir()}
        assert extra == {c["image"] for c in copies if c["split"] == split} and extra <= names
    assert np.all([c["source_split"] == "train" for c in copies])
