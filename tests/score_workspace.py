"""A throw-away workspace holding what the score stage reads (runs' and reference models'
logits, timings) for a few methods of known quality, so the score and report stages can run
in-process in a fraction of a second, without DVC or training."""
import copy
import json
import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import yaml

from unlearn.core import logits_file

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"forget": 30, "retain": 40, "test": 30, "val": 20}
CLASSES = 4
# how far each method's forget logits sit from the retrained models' (0 = the same distribution)
SHIFT = {"original": 4.0, "retrain": 0.0, "finetune": 1.5, "neggrad": 1.5}


def _labels(rng):
    return {split: rng.integers(0, CLASSES, n) for split, n in SIZES.items()}


def _logits(rng, labels, n_models, forget_shift, scale=1.0):
    """[n_models, S, C] per split: the true class 1.0 above the rest plus noise; forget rows
    `forget_shift` higher still (a model that remembers its forget set)."""
    out = {}
    for split, y in labels.items():
        x = rng.normal(0, scale, (n_models, len(y), CLASSES))
        x[:, np.arange(len(y)), y] += 1.0 + (forget_shift if split == "forget" else 0.0)
        out[split] = x.astype(np.float32)
    return out


CALIBRATION = {"original": "untouched", "retrain": "reference"}


def params(n_runs, methods, resamples=200, scorer="both", min_runs=5, **bootstrap):
    p = yaml.safe_load((ROOT / "params.yaml").read_text())
    p = copy.deepcopy(p)
    p["unlearn"] = {m: {} for m in methods}
    p["runs"]["seeds"] = list(range(n_runs))
    p["retrain"]["seeds"] = list(range(1, n_runs + 1))
    p["score"]["scorer"] = scorer
    p["score"]["bootstrap"].update(resamples=resamples, min_runs=min_runs, **bootstrap)
    return p


def make(root, n_runs=6, methods=tuple(SHIFT), seed=0, shift=None, same_as=None, stats=None,
         originals=None, **params_kw):
    """Write params.yaml, models/ and timing files for `methods` under root; same_as
    {method: other} gives a method exactly the runs of another one; stats {method: [per-run
    dict]} are the diagnostics its runs recorded; originals [n_runs] the original (training
    seed) each run started from, as the unlearn stage records it."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    labels = _labels(rng)
    p = params(n_runs, methods, **params_kw)
    (root / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    for k in p["retrain"]["seeds"]:
        d = root / f"models/retrained/seed_{k}"
        d.mkdir(parents=True)
        logits = {s: v[0] for s, v in _logits(rng, labels, 1, 0.0).items()}
        logits_file.save(d / "logits", logits, labels, {"seed": k})
        t = root / f"metrics/train/retrained_{k}.timing.json"
        t.parent.mkdir(parents=True, exist_ok=True)
        t.write_text(json.dumps({"seconds": 10.0}))
    made = {}
    for m in methods:
        d = root / f"models/unlearned/{m}"
        d.mkdir(parents=True)
        s = (shift or SHIFT)[m]
        twin = (same_as or {}).get(m)
        made[m] = made[twin] if twin else _logits(rng, labels, n_runs, s)
        record = {"seeds": p["runs"]["seeds"], "stats": (stats or {}).get(m, [{}] * n_runs),
                  "calibration": CALIBRATION.get(m)}   # as the methods register it
        if originals is not None:
            record["originals"] = list(originals)
        logits_file.save(d / "runs", made[m], labels, record)
        t = root / f"metrics/timing/{m}.json"
        t.parent.mkdir(parents=True, exist_ok=True)
        t.write_text(json.dumps({"seconds": [1.0] * n_runs}))
    write_audit(root)
    return root


def write_audit(root, pairs=()):
    """What prepare's duplicate audit leaves for the report: counts in info.json and the pairs
    (rows of unlearn.data.duplicates.COLUMNS) in duplicates.csv."""
    import pandas as pd
    from unlearn.data.duplicates import COLUMNS, Audit
    frame = pd.DataFrame(list(pairs), columns=list(COLUMNS))
    counts = Audit(frame, dropped={}, policy="report", near_threshold=16).counts()
    out = Path(root) / "data/prepared"
    out.mkdir(parents=True, exist_ok=True)
    (out / "info.json").write_text(json.dumps({"duplicates": counts}))
    frame.to_csv(out / "duplicates.csv", index=False)


@contextmanager
def inside(path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield Path(path)
    finally:
        os.chdir(old)


def score_and_report(root):
    """Run the score stage (every method in params.yaml), then the report, in-process."""
    from stages import report, score
    with inside(root):
        score.main([])
        report.main([])
