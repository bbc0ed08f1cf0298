"""How long the duplicate audit of `prepare` takes at MUFAC's size (13,068 images of 128 px).

Generates a synthetic set of about that size in a temporary folder (train 10,025 / val 1,539
/ test 1,504 images on MUFAC; here the family counts that come closest), with planted copies
at MUFAC's rate (~250 pairs in train), then times, in this one process:
  1. reading and decoding every image (what `prepare` did before the audit),
  2. the same with each image's fingerprint (pixel digest + pHash) from the same decode,
  3. the pair search and drop policy (unlearn.data.duplicates.audit).
The audit's cost is (2 − 1) + 3. Run: `.venv/bin/python bench/duplicates.py [--threads K]`.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from unlearn.core.sections import PrepareConfig  # noqa: E402
from unlearn.data.duplicates import SPLIT_ORDER, audit  # noqa: E402
from unlearn.data.forget import select_forget  # noqa: E402
from unlearn.data.mufac import read_mufac  # noqa: E402
from unlearn.data.synthetic import generate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = {"train": 405, "val": 62, "test": 61}          # ~25 photos a family
PLANTED = {"within_train": 250, "across_splits": 40, "reencoded": 0.5}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="decode threads (prepare: up to 4)")
    args = parser.parse_args()
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    cfg = {**params["generate"], "families": FAMILIES, "duplicates": PLANTED}
    near_threshold = PrepareConfig.parse(params["prepare"], "prepare").near_threshold
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "mufac"
        t = time.perf_counter()
        counts, planted = generate(root, cfg, progress=False)
        print(f"generated {sum(counts.values())} images ({counts}), {len(planted)} planted "
              f"copies, in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        read_mufac(root, 128, progress=False, threads=args.threads)
        plain = time.perf_counter() - t
        t = time.perf_counter()
        raw = read_mufac(root, 128, progress=False, threads=args.threads, fingerprints=True)
        with_prints = time.perf_counter() - t
        forget, retain = select_forget(raw.train.persons, mode="random", count=len(raw.train) // 50,
                                       fraction=None, seed=0)
        ids = {"forget": [raw.train.ids[i] for i in forget.tolist()],
               "retain": [raw.train.ids[i] for i in retain.tolist()],
               "val": raw.val.ids, "test": raw.test.ids}
        prints = {"forget": [raw.fingerprints["train"][i] for i in forget.tolist()],
                  "retain": [raw.fingerprints["train"][i] for i in retain.tolist()],
                  "val": raw.fingerprints["val"], "test": raw.fingerprints["test"]}
        t = time.perf_counter()
        found = audit({s: (ids[s], prints[s]) for s in SPLIT_ORDER}, near_threshold, "drop")
        search = time.perf_counter() - t
    n = sum(counts.values())
    c = found.counts()
    print(f"found {c['exact_pairs']} exact + {c['near_pairs']} near pairs "
          f"(planted {len(planted)}), drop would remove {c['dropped']}")
    print(f"decode {n} images at 128 px, {args.threads} thread(s): {plain:.1f} s; with "
          f"fingerprints {with_prints:.1f} s (+{with_prints - plain:.1f} s); pair search and "
          f"policy {search:.1f} s")
    print(f"audit cost {with_prints - plain + search:.1f} s; prepare's decode + audit "
          f"{with_prints + search:.1f} s")


if __name__ == "__main__":
    main()
