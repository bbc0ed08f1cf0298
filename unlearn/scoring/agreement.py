"""Do the metrics agree? Kendall's τ between the method rankings under each pair of metrics,
with an interval from the paired bootstrap replicates (unlearn/scoring/bootstrap.py). numpy only.

Rankings compare methods, so every metric is oriented "higher is better" first (KLoM, where
lower is better, is negated). τ is Kendall's τ-b (ties in either ranking shrink it towards 0):
1 = the same order, 0 = unrelated, −1 = reversed.
"""
from __future__ import annotations

import itertools

import numpy as np

from unlearn.scoring.roles import find_role

# (metrics key, label, sign): sign −1 for metrics where lower is better
METRICS = (("score", "score (primary)", 1), ("official_score", "official score", 1),
           ("klom_forget", "KLoM forget", -1), ("tow", "ToW", 1))


def kendall_tau(a, b) -> np.ndarray:
    """τ-b between a [M, ...] and b [M, ...] over the M methods (first axis), per trailing index."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    i, j = np.triu_indices(a.shape[0], 1)
    da, db = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
    num = (da * db).sum(axis=0)
    den = np.sqrt((da != 0).sum(axis=0) * (db != 0).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def agreement(rows, reps, level):
    """[(label a, label b, τ of the point scores, [low, high] or None)] for every pair of the
    metrics that every row has; reps: name → [M, B] replicates in row order (or None)."""
    have = [m for m in METRICS if all(m[0] in r for r in rows)]
    out = []
    for (ka, la, sa), (kb, lb, sb) in itertools.combinations(have, 2):
        point = float(kendall_tau([sa * r[ka] for r in rows], [sb * r[kb] for r in rows]))
        ci = None
        if reps is not None and ka in reps and kb in reps:
            t = kendall_tau(sa * reps[ka], sb * reps[kb])
            t = t[~np.isnan(t)]
            if t.size:
                lo, hi = np.percentile(t, [50 * (1 - level), 50 * (1 + level)])
                ci = [float(lo), float(hi)]
        out.append((la, lb, point, ci))
    return out


def calibration_separation(rows, reps, level):
    """[(label, P(retrain beats original), separated)] per metric with replicates: does the
    metric tell the gold standard (the reference row, retrain) from doing nothing (the
    untouched one, original) at this N? Separated when that share is at least (1 + level) / 2
    (as the report's groups)."""
    i, j = find_role(rows, "reference"), find_role(rows, "untouched")
    if reps is None or i is None or j is None:
        return []
    out = []
    for key, label, sign in METRICS:
        if key in reps:
            a, b = sign * reps[key][i], sign * reps[key][j]
            p = float(np.mean(a > b) + 0.5 * np.mean(a == b))
            out.append((label, p, p >= (1 + level) / 2))
    return out


def render(rows, reps, level):
    """The report's section: τ per pair of metrics, with its interval, and which metrics tell
    `retrain` from `original`."""
    pairs = agreement(rows, reps, level)
    if not pairs:
        return ""
    lines = ["## Do the metrics agree?\n",
             f"Kendall's τ between the {len(rows)} rows' rankings under two metrics (1 = the same "
             f"order, 0 = unrelated; KLoM negated, lower being better), with the central "
             f"{level * 100:g}% of τ over the paired replicates.\n",
             "| metric | metric | τ | interval |", "|---|---|---|---|"]
    for la, lb, point, ci in pairs:
        interval = f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "n/a"
        lines.append(f"| {la} | {lb} | {point:.2f} | {interval} |")
    sep = calibration_separation(rows, reps, level)
    if sep:
        lines += ["", "Does each metric tell `retrain` (the gold standard) from `original` (no "
                  f"unlearning) at this N? P = share of paired replicates in which retrain scores "
                  f"better; told apart when P ≥ {(1 + level) / 2:.3g}.\n",
                  "| metric | P(retrain better) | told apart |", "|---|---|---|"]
        lines += [f"| {label} | {p:.3f} | {'yes' if ok else 'no: cannot at this N'} |"
                  for label, p, ok in sep]
    return "\n".join(lines) + "\n\n"
