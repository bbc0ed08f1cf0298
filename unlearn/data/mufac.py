"""Reader for MUFAC (Choi & Na 2023) and anything laid out like it (the synthetic stand-in).

Layout, under `root` (normally `.../custom_korean_family_dataset_resolution_128`):
    custom_{train,val,test}_dataset.csv   columns family_id, person_id, age_class, image_path
    {train,val,test}_images/              the files named by image_path
The CSVs were written by pandas with its index, so a leading unnamed column is dropped when
present. age_class letters a..h map to 0..7 (AGE_RANGES). image_path must be a bare file
name inside its split's folder; `.jpg` and `.JPG` both occur.

Split roles. The train CSV is always the training set. Of the other two, `selection_split`
picks the best epoch and `test_split` is reported as held-out test accuracy. The default
(val = selection, test = test) is the COMP540 study's naming. Beware: Choi & Na call the val
CSV "test" and the test CSV "unseen", so their "test accuracy" is our selection-split
accuracy; swap the two params to follow them. The reader records which CSV plays which role.

Every image is decoded once (PIL, converted to RGB) and resized to `image_size`×`image_size`
with PIL's bilinear filter (antialiased when shrinking, as torchvision's Resize on PIL
images); an image already at that size is not resampled. Families must not cross CSVs: on
MUFAC they never do, and a shared family would leak identities into held-out accuracy, so
it is an error rather than a warning. All checks (CSV, columns, labels, names, files,
families) run before any image is decoded; decode errors are raised before the caller
writes anything.
"""
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from tqdm import tqdm

from unlearn.data import duplicates
from unlearn.data.splits import Split
from unlearn.core.errors import UserError
from unlearn.core.sections import DataConfig

SPLITS = ("train", "val", "test")
COLUMNS = ("family_id", "person_id", "age_class", "image_path")
CLASS_LETTERS = "abcdefgh"
AGE_RANGES = ((0, 6), (7, 12), (13, 19), (20, 30), (31, 45), (46, 55), (56, 66), (67, 80))
DATASET_DIRNAME = "custom_korean_family_dataset_resolution_128"
RESIZE_FILTER = Image.Resampling.BILINEAR
RESIZE_FILTER_NAME = "PIL bilinear (antialiased when shrinking)"
# PIL releases the GIL while decoding, so a small pool can overlap decodes. Measured: a
# 128-px JPEG costs ~0.6 ms CPU to decode and resize (2,000 images: 1.2 s CPU); on the
# shared 2-core dev box two threads gained nothing measurable, so the pool only matters
# for the real MUFAC (13,068 images) on machines with more cores.
DECODE_THREADS = min(4, os.cpu_count() or 1)


def csv_name(split):
    return f"custom_{split}_dataset.csv"


def images_dirname(split):
    return f"{split}_images"


def class_table():
    """[{label, letter, ages: [lo, hi]}] for reports and info.json."""
    return [{"label": k, "letter": c, "ages": list(AGE_RANGES[k])}
            for k, c in enumerate(CLASS_LETTERS)]


@dataclass
class MufacData:
    """The three splits by role, and which CSV each role was read from."""
    train: Split
    val: Split          # model selection
    test: Split         # reported held-out test
    sources: dict       # role -> CSV file name
    fingerprints: dict = None   # role -> [(pixel digest, pHash)] in CSV order, when asked


def read_table(root, split):
    """The validated CSV of `split` as a DataFrame of strings (CSV order, index 0..N-1).

    Checks: CSV exists and parses, columns present, at least one row, age_class a..h,
    ids present, image_path a bare file name, no duplicate, every listed file present.
    """
    path = Path(root) / csv_name(split)
    if not path.is_file():
        raise UserError(f"{path}: CSV not found")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"{path}: not a readable CSV ({first})") from None
    if len(df.columns) and str(df.columns[0]).startswith("Unnamed: 0"):
        df = df.drop(columns=df.columns[0])          # pandas' index column
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise UserError(f"{path}: missing column {missing[0]!r} (has {', '.join(map(str, df.columns))})")
    if len(df) == 0:
        raise UserError(f"{path}: no rows")
    folder = Path(root) / images_dirname(split)
    seen = {}
    for i, (fam, person, letter, name) in enumerate(zip(*(df[c] for c in COLUMNS))):
        where = f"{path} line {i + 2}"               # line 1 is the header
        if letter not in CLASS_LETTERS or len(letter) != 1:
            raise UserError(f"{where}: unknown age_class {letter!r} (expected one of a..h)")
        if not fam or not person:
            raise UserError(f"{where}: empty {'family_id' if not fam else 'person_id'}")
        if (not name or name in (".", "..") or "/" in name or "\\" in name
                or os.path.isabs(name) or "\0" in name):
            raise UserError(f"{where}: image_path {name!r} escapes {folder.name}/ "
                            "(must be a bare file name)")
        if name in seen:
            raise UserError(f"{where}: duplicate image_path {name!r} (also line {seen[name]})")
        seen[name] = i + 2
        if not (folder / name).is_file():
            raise UserError(f"{folder / name}: image listed at {where} is missing")
    return df.reset_index(drop=True)


def check_families(tables):
    """Error if a family_id occurs in more than one CSV (identity leak into held-out)."""
    owner = {}
    for split, df in tables.items():
        for fam in df["family_id"].unique():
            if fam in owner:
                raise UserError(f"family {fam} appears in both {csv_name(owner[fam])} and "
                                f"{csv_name(split)}; families must not cross splits")
            owner[fam] = split


def decode(path, size, fingerprint=False):
    """(uint8 [H, W, 3], fingerprint) of one image; a UserError names the file when it
    cannot be read. The fingerprint is the duplicate audit's (digest, pHash) of the image at
    its native size (unlearn.data.duplicates.fingerprint), from the same decode, or None
    unless asked for."""
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            fp = duplicates.fingerprint(im) if fingerprint else None
            if im.size != (size, size):
                im = im.resize((size, size), RESIZE_FILTER)
            return np.asarray(im, dtype=np.uint8), fp
    except Exception as e:  # truncated JPEG, not an image, decompression bomb ...
        raise UserError(f"{path}: unreadable or corrupt image ({type(e).__name__}: "
                        f"{str(e).splitlines()[0] if str(e) else 'no detail'})") from None


def load_split(root, split, df, image_size, progress=True, threads=DECODE_THREADS,
               fingerprints=False):
    """Decode the images of a validated table: (Split in CSV order, [(digest, pHash)] in
    CSV order with `fingerprints`, else None)."""
    folder = Path(root) / images_dirname(split)
    paths = [folder / name for name in df["image_path"]]
    bar = tqdm(total=len(paths), desc=f"decode {split}", disable=not progress or None,
               leave=False)

    def one(p):
        out = decode(p, image_size, fingerprints)
        bar.update()
        return out

    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            decoded = list(pool.map(one, paths))     # map re-raises the first error in order
    else:
        decoded = [one(p) for p in paths]
    bar.close()
    arrays, prints = zip(*decoded)
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    labels = torch.tensor([CLASS_LETTERS.index(c) for c in df["age_class"]], dtype=torch.long)
    persons = [f"{f}/{p}" for f, p in zip(df["family_id"], df["person_id"])]
    return (Split(images, labels, list(df["image_path"]), persons),
            list(prints) if fingerprints else None)


def read_mufac(root, image_size, selection_split="val", test_split="test", progress=True,
               threads=DECODE_THREADS, fingerprints=False):
    """Validate and decode the dataset at `root`; returns MufacData (splits by role), with
    each image's duplicate-audit fingerprint when `fingerprints` is set."""
    DataConfig.parse({"image_size": image_size, "selection_split": selection_split,
                      "test_split": test_split}, "data")
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"data.root: {root}: dataset folder not found")
    by_role = {"train": "train", "val": selection_split, "test": test_split}
    tables = {split: read_table(root, split) for split in by_role.values()}
    check_families(tables)
    loaded = {role: load_split(root, split, tables[split], image_size, progress, threads,
                               fingerprints)
              for role, split in by_role.items()}
    return MufacData(**{role: split for role, (split, _) in loaded.items()},
                     sources={role: csv_name(s) for role, s in by_role.items()},
                     fingerprints={role: fp for role, (_, fp) in loaded.items()}
                     if fingerprints else None)
