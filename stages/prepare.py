"""prepare stage: decode the dataset once, pick the forget set, audit duplicates, write
data/prepared/.

Reads params `data` and `prepare`. The duplicate audit (unlearn/data/duplicates.py) writes
every pair of copies to duplicates.csv and their counts to info.json under `duplicates`;
with `prepare.duplicates: drop` the leaking copies leave retain, val and test, and
the manifest lists them with role `dropped`. Everything is validated and decoded in memory first;
the outputs are written into a temporary sibling folder that replaces data/prepared only
when complete, so a failed or interrupted run never leaves a half-written folder.
Run from the repo root: `python -m stages.prepare [--out data/prepared]` (dvc.yaml passes
the folder).
"""
import argparse
import time
from pathlib import Path

import pandas as pd
import torch

from stages.common import PREPARED_DIR, entry_point, load_params
from unlearn.core.atomic import atomic_dir, write_json, write_text
from unlearn.core.sections import PrepareConfig
from unlearn.data.duplicates import SPLIT_ORDER, audit
from unlearn.data.forget import select_forget
from unlearn.data.mufac import CLASS_LETTERS, RESIZE_FILTER_NAME, class_table, read_mufac
from unlearn.data.splits import save_split

def manifest(raw, forget_idx, retain_idx, dropped):
    """One row per image: where it came from and what role it plays (`dropped`: a copy
    the duplicate policy removed)."""
    role = ["retain"] * len(raw.train)
    for i in forget_idx.tolist():
        role[i] = "forget"
    for k in dropped.get("retain", []):
        role[retain_idx[k]] = "dropped"
    held_out = {r: [r] * len(getattr(raw, r)) for r in ("val", "test")}
    for r in held_out:
        for k in dropped.get(r, []):
            held_out[r][k] = "dropped"
    parts = [(raw.train, "train", role)] + [(getattr(raw, r), r, held_out[r]) for r in ("val", "test")]
    rows = [{"image_path": name, "source_csv": raw.sources[src], "role": rl,
             "age_class": CLASS_LETTERS[label], "person": person}
            for split, src, roles in parts
            for name, label, person, rl in zip(split.ids, split.labels.tolist(), split.persons, roles)]
    return pd.DataFrame(rows).to_csv(index=False)


@entry_point
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=PREPARED_DIR,
                        help="folder to write, replaced whole (default: %(default)s)")
    out = parser.parse_args(argv).out
    params = load_params()   # every section parsed by its class: a bad value stops here
    data, forget_cfg = params["data"], params["prepare"]["forget"]
    prepare = PrepareConfig.parse(params["prepare"], "prepare")   # its defaults filled in
    start = time.time()
    raw = read_mufac(data["root"], data["image_size"], data["selection_split"], data["test_split"],
                     fingerprints=True)
    forget_idx, retain_idx = select_forget(raw.train.persons, **forget_cfg)
    splits = {"forget": raw.train.subset(forget_idx), "retain": raw.train.subset(retain_idx),
              "val": raw.val, "test": raw.test}
    prints = {"forget": [raw.fingerprints["train"][i] for i in forget_idx.tolist()],
              "retain": [raw.fingerprints["train"][i] for i in retain_idx.tolist()],
              "val": raw.fingerprints["val"], "test": raw.fingerprints["test"]}
    found = audit({s: (splits[s].ids, prints[s]) for s in SPLIT_ORDER},
                  prepare.near_threshold, prepare.duplicates)
    for name, drop in found.dropped.items():
        keep = sorted(set(range(len(splits[name]))) - set(drop))
        splits[name] = splits[name].subset(torch.tensor(keep, dtype=torch.long))
    info = {
        "num_classes": len(CLASS_LETTERS), "image_size": data["image_size"],
        "resize_filter": RESIZE_FILTER_NAME, "data_root": str(data["root"]),
        "classes": class_table(),
        "counts": {"train": len(raw.train), **{k: len(v) for k, v in splits.items()}},
        "sources": {"train": raw.sources["train"],
                    "val": {"csv": raw.sources["val"], "role": "model selection"},
                    "test": {"csv": raw.sources["test"], "role": "reported test accuracy"}},
        "forget": {**forget_cfg, "persons": len(set(splits["forget"].persons))},
        "duplicates": found.counts(),
    }
    with atomic_dir(out) as tmp:
        for name, split in splits.items():
            save_split(split, tmp / f"{name}.pt")
        write_json(tmp / "info.json", info)
        write_text(tmp / "manifest.csv", manifest(raw, forget_idx, retain_idx, found.dropped))
        write_text(tmp / "duplicates.csv", found.pairs.to_csv(index=False))
    dup = info["duplicates"]
    dropped = ", ".join(f"{k} {v}" for k, v in dup["dropped_by_split"].items() if v) or "none"
    print(f"duplicates: {dup['exact_pairs']} exact and {dup['near_pairs']} near pairs, "
          f"{dup['forget_retain_pairs']} forget-retain, {dup['cross_split_pairs']} across splits "
          f"({out / 'duplicates.csv'})"
          + (f"; dropped {dup['dropped']}: {dropped} (manifest.csv, role dropped)"
             if prepare.duplicates == "drop" else ""))
    counts = ", ".join(f"{k} {v}" for k, v in info["counts"].items())
    print(f"prepared {out}: {counts} ({data['image_size']} px, val = {raw.sources['val']}, "
          f"test = {raw.sources['test']}) in {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
