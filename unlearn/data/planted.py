"""Planted duplicates in the synthetic stand-in, as MUFAC has them.

MUFAC holds hundreds of identical photos under different families and names inside
train_images/ (e.g. F0001_AGE_GM_75_d1 and F0002_AGE_GM_75_d1), and copies across splits
(docs/dataset.md#known-defects-duplicates-and-leaks). So that the duplicate audit in
`prepare` meets the same thing on the bundled data, `generate` copies some train photos:

- within_train: under another train family, with that family's ID in the file name;
- across_splits: into a val or test family (alternately, val first);
- a share `reencoded` of all copies is decoded and saved again as JPEG quality 75, so
  their pixels differ from the source's (a near duplicate), the rest are byte copies
  (an exact duplicate).

A copy keeps its source's person role, age class and the rest of its name; its CSV row is
appended to the split's CSV. The choices come from their own seeded stream, so the photos
themselves are the same as without planting.
"""
import re
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from unlearn.core.errors import UserError
from unlearn.data.mufac import images_dirname

REENCODE_QUALITY = 75       # the source photos are saved at 90 (synthetic.JPEG_QUALITY)
NAME = re.compile(r"^(F\d{4})(_AGE_.+_[a-h])(\d+)(\.jpg|\.JPG)$")   # synthetic.py's names


def _copy_name(family, source, taken):
    """The source's file name under `family`, its photo number raised until it is free."""
    _, rest, number, ext = NAME.match(source).groups()
    number = int(number)
    while f"{family}{rest}{number}{ext}" in taken:
        number += 1
    return f"{family}{rest}{number}{ext}"


def plant_duplicates(dataset_dir, tables, cfg, seed):
    """Copy train photos as `cfg` (the parsed `generate.duplicates`, unlearn/core/sections.py) says, in the dataset at `dataset_dir`.

    tables: {split: [CSV rows as dicts]}, the rows of the photos already written; each
    copy's row is appended to its split's list (the caller writes the CSVs). Returns the
    copies as dicts {source_split, source, split, image, kind} (kind exact or near), in the
    order they were made."""
    dataset_dir = Path(dataset_dir)
    n = cfg["within_train"] + cfg["across_splits"]
    train = list(tables["train"])
    if n > len(train):
        raise UserError(f"generate.duplicates: {n} copies asked, but train has only "
                        f"{len(train)} photos to copy")
    if n == 0:
        return []
    rng = np.random.default_rng([seed, 1, 1])           # not a split's stream (seed, 0..2, family)
    sources = rng.choice(len(train), size=n, replace=False)
    families = {s: sorted({r["family_id"] for r in rows}) for s, rows in tables.items()}
    taken = {s: {r["image_path"] for r in rows} for s, rows in tables.items()}
    planted = []
    for k, index in enumerate(sources.tolist()):
        src = train[index]
        split = "train" if k < cfg["within_train"] else ("val", "test")[(k - cfg["within_train"]) % 2]
        others = [f for f in families[split] if f != src["family_id"]]
        family = others[int(rng.integers(len(others)))]
        name = _copy_name(family, src["image_path"], taken[split])
        taken[split].add(name)
        kind = "near" if rng.random() < cfg["reencoded"] else "exact"
        source_path = dataset_dir / images_dirname("train") / src["image_path"]
        target = dataset_dir / images_dirname(split) / name
        if kind == "exact":
            shutil.copyfile(source_path, target)
        else:
            with Image.open(source_path) as im:
                im.convert("RGB").save(target, "JPEG", quality=REENCODE_QUALITY)
        tables[split].append({"family_id": family, "person_id": src["person_id"],
                              "age_class": src["age_class"], "image_path": name})
        planted.append({"source_split": "train", "source": src["image_path"], "split": split,
                        "image": name, "kind": kind})
    return planted
