"""prepare stage: decode the dataset once, pick the forget set, write data/prepared/.

Reads params `data` and `prepare`. Everything is validated and decoded in memory first;
the outputs are written into a temporary sibling folder that replaces data/prepared only
when complete, so a failed or interrupted run never leaves a half-written folder.
Run from the repo root: `python -m stages.prepare`.
"""
import time
from pathlib import Path

import pandas as pd

from stages.common import entry_point, load_params
from unlearn.atomic import atomic_dir, write_json, write_text
from unlearn.data import save_split
from unlearn.forget import check_forget_config, select_forget
from unlearn.mufac import CLASS_LETTERS, RESIZE_FILTER_NAME, check_roles, class_table, read_mufac

OUT = Path("data/prepared")


def manifest(raw, forget_idx):
    """One row per image: where it came from and what role it plays."""
    role = ["retain"] * len(raw.train)
    for i in forget_idx.tolist():
        role[i] = "forget"
    parts = [(raw.train, "train", role)] + [(getattr(raw, r), r, [r] * len(getattr(raw, r)))
                                            for r in ("val", "test")]
    rows = [{"image_path": name, "source_csv": raw.sources[src], "role": rl,
             "age_class": CLASS_LETTERS[label], "person": person}
            for split, src, roles in parts
            for name, label, person, rl in zip(split.ids, split.labels.tolist(), split.persons, roles)]
    return pd.DataFrame(rows).to_csv(index=False)


@entry_point
def main():
    params = load_params()
    data, forget_cfg = params["data"], params["prepare"]["forget"]
    check_roles(data["selection_split"], data["test_split"])
    check_forget_config(forget_cfg)
    start = time.time()
    raw = read_mufac(data["root"], data["image_size"], data["selection_split"], data["test_split"])
    forget_idx, retain_idx = select_forget(raw.train.persons, **forget_cfg)
    splits = {"forget": raw.train.subset(forget_idx), "retain": raw.train.subset(retain_idx),
              "val": raw.val, "test": raw.test}
    info = {
        "num_classes": len(CLASS_LETTERS), "image_size": data["image_size"],
        "resize_filter": RESIZE_FILTER_NAME, "data_root": str(data["root"]),
        "classes": class_table(),
        "counts": {"train": len(raw.train), **{k: len(v) for k, v in splits.items()}},
        "sources": {"train": raw.sources["train"],
                    "val": {"csv": raw.sources["val"], "role": "model selection"},
                    "test": {"csv": raw.sources["test"], "role": "reported test accuracy"}},
        "forget": {**forget_cfg, "persons": len(set(splits["forget"].persons))},
    }
    with atomic_dir(OUT) as tmp:
        for name, split in splits.items():
            save_split(split, tmp / f"{name}.pt")
        write_json(tmp / "info.json", info)
        write_text(tmp / "manifest.csv", manifest(raw, forget_idx))
    counts = ", ".join(f"{k} {v}" for k, v in info["counts"].items())
    print(f"prepared {OUT}: {counts} ({data['image_size']} px, val = {raw.sources['val']}, "
          f"test = {raw.sources['test']}) in {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
