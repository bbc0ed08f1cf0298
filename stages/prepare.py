"""prepare stage: decode the dataset once, pick the forget set, audit duplicates, write
data/prepared/.

Reads params `data` and `prepare`. The duplicate audit (unlearn/data/duplicates.py) writes
every pair of copies to duplicates.csv and their counts to info.json under `duplicates`;
with `prepare.duplicates: drop` the leaking copies leave retain, val and test, and
the manifest lists them with role `dropped`. Everything is validated and decoded in memory first;
the outputs are written into a temporary sibling folder that replaces data/prepared only
when complete, so a failed or interrupted run never leaves a half-written folder.
Run from the repo root: `python -m stages.prepare`.
"""
import time
from pathlib import Path

import pandas as pd
import torch

from stages.common import entry_point, load_params
from unlearn.core.atomic import atomic_dir, write_json, write_text
from unlearn.data.duplicates import SPLIT_ORDER, audit, check_duplicates_config
from unlearn.data.forget import check_forget_config, select_forget
from unlearn.data.mufac import CLASS_LETTERS, RESIZE_FILTER_NAME, check_roles, class_table, read_mufac
from unlearn.data.splits import save_split

OUT = Path("data/prepared")


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
def main():
    params = load_params()
    data, forget_cfg = params["data"], params["prepare"]["forget"]
    dup_cfg = check_duplicates_config(params["prepare"])
    check_roles(data["selection_split"], data["test_split"])
    check_forget_config(forget_cfg)
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
                  dup_cfg["near_threshold"], dup_cfg["policy"])
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
    with atomic_dir(OUT) as tmp:
        for name, split in splits.items():
            save_split(split, tmp / f"{name}.pt")
        write_json(tmp / "info.json", info)
        write_text(tmp / "manifest.csv", manifest(raw, forget_idx, retain_idx, found.dropped))
        write_text(tmp / "duplicates.csv", found.pairs.to_csv(index=False))
    dup = info["duplicates"]
    dropped = ", ".join(f"{k} {v}" for k, v in dup["dropped_by_split"].items() if v) or "none"
    print(f"duplicates: {dup['exact_pairs']} exact and {dup['near_pairs']} near pairs, "
          f"{dup['forget_retain_pairs']} forget-retain, {dup['cross_split_pairs']} across splits "
          f"({OUT / 'duplicates.csv'})"
          + (f"; dropped {dup['dropped']}: {dropped} (manifest.csv, role dropped)"
             if dup_cfg["policy"] == "drop" else ""))
    counts = ", ".join(f"{k} {v}" for k, v in info["counts"].items())
    print(f"prepared {OUT}: {counts} ({data['image_size']} px, val = {raw.sources['val']}, "
          f"test = {raw.sources['test']}) in {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
