"""Reading what the report is built from: each method's score files (detail, bootstrap
replicates, per-example ε), the wall times of the cost column and the prepare stage's
duplicate audit. A missing file is a one-line UserError naming the stage that writes it.

Paths are arguments: the caller (stages/report.py) decides where the files live.
"""
import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from unlearn.core.errors import UserError


@dataclass
class ReportInputs:
    """Everything the report reads, per method keyed by name (params order)."""
    details: dict            # method -> its detail.json (every score, interval and record)
    replicates: dict         # method -> its bootstrap.json (replicates and how they were drawn)
    replicate_paths: dict    # method -> where that came from (the pairing check names it)
    eps: dict                # method -> {scorer: per-example ε}
    method_seconds: dict     # method -> the wall times of its unlearning runs
    reference_seconds: list  # the wall time of training each reference model
    audit_counts: dict       # the duplicate audit's counts (info.json's `duplicates`)
    audit_pairs: pd.DataFrame  # and the pairs it found


def read_json(path, stage):
    """A JSON file the score stage (or another, `stage` names it) writes."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: missing; run the score stage (dvc repro score) for {stage!r}")
    return json.loads(path.read_text())


def read_eps(path, method):
    """A method's <method>.eps.csv as {scorer: per-example ε} (columns `epsilon_<scorer>`)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: missing; run the score stage (dvc repro score) for {method!r}")
    with path.open() as f:
        table = list(csv.DictReader(f))
    return {k.removeprefix("epsilon_"): np.array([float(row[k]) for row in table])
            for k in (table[0] if table else {}) if k.startswith("epsilon_")}


def read_audit(info, pairs):
    """The duplicate audit prepare wrote: (counts from `info`'s `duplicates`, pairs csv)."""
    info, pairs = Path(info), Path(pairs)
    for path in (info, pairs):
        if not path.is_file():
            raise UserError(f"{path}: missing; run the prepare stage")
    counts = json.loads(info.read_text()).get("duplicates")
    if counts is None:
        raise UserError(f"{info}: no `duplicates` counts; rerun the prepare stage")
    return counts, pd.read_csv(pairs)


def read_inputs(score_files, method_timing, reference_timing, info, duplicates):
    """Read every input, failing on the first missing file.

    score_files: method -> {detail, bootstrap, eps} paths (stages.common.score_files);
    method_timing: method -> its unlearn stage's timing json; reference_timing: stage name ->
    a reference training's timing json (both hold `seconds`: timings stay out of the score
    files, so a reproduction elsewhere leaves those byte for byte); info, duplicates: the
    prepare stage's info.json and duplicates.csv."""
    counts, pairs = read_audit(info, duplicates)
    reference_seconds = [read_json(p, stage)["seconds"] for stage, p in reference_timing.items()]
    method_seconds = {m: read_json(p, m)["seconds"] for m, p in method_timing.items()}
    details = {m: read_json(f["detail"], m) for m, f in score_files.items()}
    replicates = {m: read_json(f["bootstrap"], m) for m, f in score_files.items()}
    eps = {m: read_eps(f["eps"], m) for m, f in score_files.items()}
    return ReportInputs(details=details, replicates=replicates,
                        replicate_paths={m: f["bootstrap"] for m, f in score_files.items()},
                        eps=eps, method_seconds=method_seconds,
                        reference_seconds=reference_seconds, audit_counts=counts,
                        audit_pairs=pairs)
