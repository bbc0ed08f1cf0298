"""Logits files: what the training and unlearning stages write and the scorers read.

Plain numpy (`<name>.npz`: `logits_<split>` and `labels_<split>` arrays) beside a JSON record
(`<name>.json`: seeds, originals, what computed them), so that the score and report stages
need no torch: importing it cost about 2 s in each of their processes (measured with
`python -X importtime`). numpy's own `savez` stamps each member with the current time; this
writer fixes the stamp, so the same logits give the same bytes on every run.
"""
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from unlearn.core.errors import UserError

_EPOCH = (1980, 1, 1, 0, 0, 0)   # the earliest time a zip member can carry


def _as_numpy(value):
    # torch tensors (CPU) as well as arrays: the stages hand over what they computed
    return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)


def save(stem, logits, labels, record):
    """Write <stem>.npz (logits and labels per split) and <stem>.json (record: plain data).
    The caller makes it atomic (unlearn.core.atomic.atomic_dir)."""
    stem = Path(stem)
    arrays = {f"logits_{s}": _as_numpy(v) for s, v in logits.items()}
    arrays.update({f"labels_{s}": _as_numpy(v) for s, v in labels.items()})
    with zipfile.ZipFile(stem.with_suffix(".npz"), "w", zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(arrays[name]),
                                      allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=_EPOCH), buffer.getvalue())
    stem.with_suffix(".json").write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")


def load(stem):
    """{"logits": {split: array}, "labels": {split: array}, **record}; a missing or damaged
    file is a one-line UserError naming it."""
    stem = Path(stem)
    npz, meta = stem.with_suffix(".npz"), stem.with_suffix(".json")
    for path in (npz, meta):
        if not path.is_file():
            raise UserError(f"{path}: not found (run the stage that writes it)")
    try:
        with np.load(npz, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except Exception as e:  # truncated or corrupt file, e.g. a damaged pull
        raise UserError(f"{npz}: corrupt or unreadable ({type(e).__name__})") from None
    try:
        record = json.loads(meta.read_text())
    except ValueError as e:
        raise UserError(f"{meta}: corrupt or unreadable ({type(e).__name__})") from None
    out = {"logits": {}, "labels": {}}
    for name, array in arrays.items():
        kind, _, split = name.partition("_")
        if kind in out:
            out[kind][split] = array
    return {**record, **out}
