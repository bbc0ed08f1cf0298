"""Bootstrap uncertainty of the scores: what is resampled, percentile intervals, ranks.

What was random in a score, and how a replicate redraws it (all with replacement):
- the N unlearning runs of a method: N run indices;
- the reference retrained models: N_ref model indices (the official scorer compares against all
  of them; the local scorer uses one model, whose only randomness is its noise draw);
- the local scorer's noise draw: a fresh noise seed per replicate;
- the forget examples: S example indices, applied as a count per example (a replicate's forget
  quality is the count-weighted mean of the per-example points, so per-example ε computed for a
  replicate's models serve every example draw of it).
The draws depend only on (seed, B, N, N_ref, S), never on the method, so with the same seed every
method's replicate b uses the same run indices (run k of every method shares unlearning seed k),
the same reference models and the same examples: replicates pair up across methods, and rank
statistics compare methods replicate by replicate.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Draws:
    """Indices of B bootstrap replicates: runs [B, N], refs [B, N_ref], example counts [B, S]
    (each row sums to S), and one noise seed per replicate [B]."""
    runs: np.ndarray
    refs: np.ndarray
    example_counts: np.ndarray
    noise_seeds: np.ndarray

    @property
    def resamples(self) -> int:
        return self.runs.shape[0]


def check_settings(resamples, level) -> None:
    """ValueError naming the setting when a bootstrap can't be run with it."""
    if isinstance(resamples, bool) or int(resamples) != resamples or resamples < 1:
        raise ValueError(f"resamples: must be an integer >= 1, got {resamples!r}")
    if not 0 < level < 1:
        raise ValueError(f"level: must lie strictly between 0 and 1, got {level!r}")


def draw(seed: int, resamples: int, n_runs: int, n_refs: int, n_examples: int) -> Draws:
    """The replicates' draws, deterministic in (seed, sizes); each kind of draw has its own
    stream (numpy SeedSequence.spawn), so e.g. adding reference models leaves the run draws as
    they were."""
    check_settings(resamples, 0.5)
    for name, k in (("n_runs", n_runs), ("n_refs", n_refs), ("n_examples", n_examples)):
        if k < 1:
            raise ValueError(f"{name}: must be >= 1, got {k}")
    runs_ss, refs_ss, ex_ss, noise_ss = np.random.SeedSequence(seed).spawn(4)
    b = int(resamples)
    runs = np.random.default_rng(runs_ss).integers(0, n_runs, (b, n_runs))
    refs = np.random.default_rng(refs_ss).integers(0, n_refs, (b, n_refs))
    ex = np.random.default_rng(ex_ss).integers(0, n_examples, (b, n_examples))
    counts = np.zeros((b, n_examples), np.int64)
    np.add.at(counts, (np.arange(b)[:, None], ex), 1)
    noise = np.random.default_rng(noise_ss).integers(0, 2 ** 63 - 1, b)
    return Draws(runs, refs, counts, noise)


def weighted_means(per_example, counts) -> np.ndarray:
    """Replicate b's mean of per_example[b] [B, S] over its example draw (counts [B, S])."""
    counts = np.asarray(counts)
    return (np.asarray(per_example, np.float64) * counts).sum(axis=1) / counts.sum(axis=1)


def score_replicates(quality, draws: Draws, retain_u, test_u, retain_r, test_r, *,
                     resample_refs: bool) -> np.ndarray:
    """Final score [B] per replicate: F_b × (mean RA_U / mean RA_R) × (mean TA_U / mean TA_R),
    the unlearned means over the replicate's drawn runs, the reference means over its drawn
    reference models (resample_refs) or over the given ones as they are (the local scorer's one
    model). Accuracies are per model, [N] and [N_ref]."""
    runs = draws.runs
    ra_u = np.asarray(retain_u, np.float64)[runs].mean(axis=1)
    ta_u = np.asarray(test_u, np.float64)[runs].mean(axis=1)
    ra_r, ta_r = np.asarray(retain_r, np.float64), np.asarray(test_r, np.float64)
    if resample_refs:
        ra_r, ta_r = ra_r[draws.refs].mean(axis=1), ta_r[draws.refs].mean(axis=1)
    else:
        ra_r, ta_r = np.full(runs.shape[0], ra_r.mean()), np.full(runs.shape[0], ta_r.mean())
    if (ra_r <= 0).any() or (ta_r <= 0).any():
        raise ValueError("reference accuracy: a replicate's mean is 0 (it divides)")
    return np.asarray(quality, np.float64) * (ra_u / ra_r) * (ta_u / ta_r)


def percentile_interval(replicates, level: float, point=None) -> tuple[list[float], bool]:
    """([low, high], extended): the percentile interval of the replicates at `level` (numpy's
    linear interpolation). With `point`, the interval is widened to contain it and `extended`
    says whether that was needed: a point estimate outside the bootstrap's central mass means
    the statistic is biased under resampling (e.g. repeated runs at small N), worth reading."""
    check_settings(1, level)
    reps = np.asarray(replicates, np.float64)
    if reps.size == 0 or not np.isfinite(reps).all():
        raise ValueError("replicates: need a non-empty array of finite values")
    low, high = np.percentile(reps, [50 * (1 - level), 50 * (1 + level)])
    low, high = float(low), float(high)
    extended = False
    if point is not None and not low <= point <= high:
        low, high, extended = min(low, float(point)), max(high, float(point)), True
    return [low, high], extended


def ratio_interval(num, den, level: float):
    """Percentile interval of num/den per replicate; a replicate with den = 0 counts as +inf (the
    numerator is >= 0 here), so the high end is None (unbounded) when such replicates reach the
    upper tail. None when the ratio is undefined in most replicates."""
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.inf)
    ratio = np.where((den <= 0) & (num <= 0), np.nan, ratio)      # 0/0: no information
    ok = ratio[~np.isnan(ratio)]
    if ok.size < ratio.size / 2:
        return None
    with np.errstate(invalid="ignore"):         # inf − inf where the tail is unbounded
        q = np.percentile(ok, [50 * (1 - level), 50 * (1 + level)], method="linear")
    low = float(q[0]) if np.isfinite(q[0]) else None
    high = float(q[1]) if np.isfinite(q[1]) else None
    return [low, high]


def ranks(scores) -> np.ndarray:
    """Competition ranks per replicate, [M methods, B] scores → [M, B] ints: 1 + the number of
    methods with a strictly higher score (ties share the better rank)."""
    s = np.asarray(scores, np.float64)
    return 1 + (s[None, :, :] > s[:, None, :]).sum(axis=1)


def rank_interval(rank_reps, level: float) -> list[int]:
    """[low, high] of one method's rank replicates: percentiles rounded outwards to ranks."""
    r = np.asarray(rank_reps)
    lo = np.percentile(r, 50 * (1 - level), method="lower")
    hi = np.percentile(r, 50 * (1 + level), method="higher")
    return [int(lo), int(hi)]


def prob_best(scores, eligible) -> np.ndarray:
    """Share of replicates in which each method has the highest score among `eligible` ones
    ([M] bool); a tie for best splits the replicate evenly. Ineligible methods get 0."""
    s = np.asarray(scores, np.float64)
    eligible = np.asarray(eligible, bool)
    if not eligible.any():
        return np.zeros(s.shape[0])
    masked = np.where(eligible[:, None], s, -np.inf)
    winners = (masked == masked.max(axis=0, keepdims=True)) & eligible[:, None]
    return (winners / winners.sum(axis=0, keepdims=True)).mean(axis=1)


def prob_beats(a, b) -> float:
    """P(a beats b) over paired replicates: share with a > b, ties counting one half (so
    identical inputs give 0.5)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.mean(a > b) + 0.5 * np.mean(a == b))


def resolved_groups(p_beats_next, threshold: float) -> list[int]:
    """Group number per row of a table sorted best first, given P(row beats next row) for each
    adjacent pair ([M − 1]): a new group starts below a row that beats the next with probability
    >= threshold; rows in one group are not told apart."""
    groups = [0]
    for p in p_beats_next:
        groups.append(groups[-1] + (1 if p >= threshold else 0))
    return groups


def rank_summary(scores, calibration, level: float) -> dict:
    """Rank uncertainty of M methods from paired replicates, scores [M, B] in table order (best
    point estimate first); calibration [M] bool marks rows that are not methods (they get no
    P(best)). Returns lists in table order: rank_ci ([low, high]), p_best (None for calibration
    rows), p_beats_next (P(row beats the next row); None for the last) and group (rows of one
    group are not resolved: a group ends below a row that beats the next with probability
    >= (1 + level) / 2, i.e. where the interval of their difference excludes 0)."""
    s = np.asarray(scores, np.float64)
    calibration = np.asarray(calibration, bool)
    r = ranks(s)
    p_best = prob_best(s, ~calibration)
    p_next = [prob_beats(s[i], s[i + 1]) for i in range(s.shape[0] - 1)]
    return {
        "rank_ci": [rank_interval(r[i], level) for i in range(s.shape[0])],
        "p_best": [None if calibration[i] else float(p_best[i]) for i in range(s.shape[0])],
        "p_beats_next": p_next + [None],
        "group": resolved_groups(p_next, (1 + level) / 2),
    }
