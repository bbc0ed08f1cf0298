"""Uncertainty of the scores: how a replicate reweights what was random, intervals, ranks.

What was random in a score, and what a replicate reweights:
- the N unlearning runs of a method: a weight per run; when the runs start from K > 1 original
  models (training seeds), hierarchically: the originals are drawn first, then runs within each
  drawn original (`groups`), as a two-stage sample was taken;
- the reference retrained models: a weight per model (the official scorer compares against all
  of them; the local scorer uses one model, whose only randomness is its noise draw);
- the local scorer's noise draw: a fresh noise seed per replicate;
- the forget examples: a weight per example in F's mean.
Every scorer is one function of weighted models and examples (unlearn/scoring/official.py,
unlearn/scoring/local.py): the score is that function with every weight 1, a replicate the same
function with the replicate's weights. Schemes (`score.bootstrap.scheme`):
- `multinomial`: the classic bootstrap, each weight the number of times an index is drawn
  with replacement (0, 1, 2, ...; mean 1). A model drawn twice is an exact copy, which the
  threshold attacks exploit;
- `bayesian`: Rubin's Bayesian bootstrap, weights n·Dirichlet(1, ..., 1) (positive, mean 1,
  the same variance as the multinomial's), so no model is copied or dropped.
The weights depend only on (seed, scheme, B, N, N_ref, S), never on the method, so with the
same seed every method's replicate b weighs run k (unlearning seed k) alike, the same reference
models and the same examples: replicates pair up across methods, and rank statistics compare
methods replicate by replicate.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unlearn.core import sections
from unlearn.core.sections import BootstrapConfig

SCHEMES = sections.SCHEMES   # score.bootstrap.scheme's values, declared with the section


@dataclass(frozen=True)
class Draws:
    """Weights of B replicates: runs [B, N], refs [B, N_ref], examples [B, S] (each >= 0, mean 1
    per row), and one noise seed per replicate [B]."""
    runs: np.ndarray
    refs: np.ndarray
    examples: np.ndarray
    noise_seeds: np.ndarray

    @property
    def resamples(self) -> int:
        return self.runs.shape[0]

    def one_reference(self) -> np.ndarray:
        """[B] one reference model per replicate, drawn with probabilities ∝ the replicate's
        reference weights, for a scorer that compares with a single reference model (the local
        one): which model was trained is random too. Seeded by the replicate's noise seed."""
        p = self.refs / self.refs.sum(axis=1, keepdims=True)
        return np.array([np.random.default_rng([int(seed), 1]).choice(p.shape[1], p=row)
                         for seed, row in zip(self.noise_seeds, p)])


def check_settings(resamples, level, scheme="multinomial") -> None:
    """ValueError naming the setting when a bootstrap can't be run with it: the rules of
    `score.bootstrap` (unlearn/core/sections.py)."""
    if isinstance(resamples, np.integer):
        resamples = int(resamples)
    _, problems = BootstrapConfig.problems(
        {"resamples": resamples, "level": level, "scheme": scheme}, "bootstrap")
    if problems:
        raise ValueError(problems[0].removeprefix("bootstrap."))


def _weights(rng, b, n, scheme):
    if scheme == "bayesian":
        e = rng.standard_exponential((b, n))
        return n * e / e.sum(axis=1, keepdims=True)
    drawn = rng.integers(0, n, (b, n))
    counts = np.zeros((b, n))
    np.add.at(counts, (np.arange(b)[:, None], drawn), 1)
    return counts


def _members(groups):
    """Run indices of each original, in the order of the originals' sorted seeds."""
    _, inverse = np.unique(np.asarray(groups), return_inverse=True)
    return inverse, [np.flatnonzero(inverse == g) for g in range(int(inverse.max()) + 1)]


def _within_weights(rng, b, members, n, scheme):
    """[b, n] weights drawing each original's runs within it, once per replicate."""
    w = np.zeros((b, n))
    for idx in members:
        w[:, idx] = _weights(rng, b, len(idx), scheme)
    return w


def _grouped_weights(rng_originals, rng_runs, b, groups, scheme):
    """Run weights [b, N] of a two-stage resample: the originals (groups: each run's original)
    are drawn first, then the runs within every drawn original. multinomial: original g drawn
    c times contributes c independent with-replacement draws of its n_g runs (the weights are
    counts, summing to Σ c·n_g); bayesian: an original's Dirichlet weight times its runs'
    Dirichlet weights within it, scaled to mean 1."""
    inverse, members = _members(groups)
    original_w = _weights(rng_originals, b, len(members), scheme)
    if scheme == "bayesian":
        w = original_w[:, inverse] * _within_weights(rng_runs, b, members, len(inverse), scheme)
        return w * (w.shape[1] / w.sum(axis=1, keepdims=True))
    w = np.zeros((b, len(inverse)))
    for g, idx in enumerate(members):
        copies = original_w[:, g].astype(int)
        for j in range(int(copies.max())):   # the j-th copy of g, in the replicates that have it
            w[:, idx] += _weights(rng_runs, b, len(idx), scheme) * (copies > j)[:, None]
    return w


def draw(seed: int, resamples: int, n_runs: int, n_refs: int, n_examples: int,
         scheme: str = "multinomial", resample_examples: bool = True, groups=None) -> Draws:
    """The replicates' weights, deterministic in (seed, scheme, sizes, groups); each kind has its
    own stream (numpy SeedSequence.spawn), so e.g. adding reference models leaves the run weights
    as they were. resample_examples=False keeps every example at weight 1. groups [N]: the
    original each run started from; with more than one, runs are drawn within drawn originals
    (a fifth stream draws the originals, so one original gives the same draws as no groups)."""
    check_settings(resamples, 0.5, scheme)
    for name, k in (("n_runs", n_runs), ("n_refs", n_refs), ("n_examples", n_examples)):
        if k < 1:
            raise ValueError(f"{name}: must be >= 1, got {k}")
    if groups is not None and len(groups) != n_runs:
        raise ValueError(f"groups: one original per run, got {len(groups)} for {n_runs} runs")
    runs_ss, refs_ss, ex_ss, noise_ss, originals_ss = np.random.SeedSequence(seed).spawn(5)
    b = int(resamples)
    if groups is None or len(set(groups)) == 1:
        runs = _weights(np.random.default_rng(runs_ss), b, n_runs, scheme)
    else:
        runs = _grouped_weights(np.random.default_rng(originals_ss),
                                np.random.default_rng(runs_ss), b, groups, scheme)
    refs = _weights(np.random.default_rng(refs_ss), b, n_refs, scheme)
    examples = _weights(np.random.default_rng(ex_ss), b, n_examples, scheme)
    if not resample_examples:
        examples = np.ones_like(examples)
    noise = np.random.default_rng(noise_ss).integers(0, 2 ** 63 - 1, b)
    return Draws(runs, refs, examples, noise)


def level_draws(seed: int, resamples: int, groups, n_refs: int, n_examples: int, level: str,
                scheme: str = "multinomial", noise_seed: int = 0) -> Draws:
    """Replicates that redraw one level of the runs only, for the share of a score's variance
    between originals: level "originals" draws originals and keeps all runs of each drawn one,
    "within" keeps every original and draws runs within each. References and examples keep
    weight 1 and every replicate the same noise seed, so only the runs vary."""
    inverse, members = _members(groups)
    b = int(resamples)
    originals_rng, runs_rng = (np.random.default_rng(ss) for ss in
                               np.random.SeedSequence([seed, 1]).spawn(2))
    if level == "originals":
        runs = _weights(originals_rng, b, len(members), scheme)[:, inverse]
    elif level == "within":
        runs = _within_weights(runs_rng, b, members, len(inverse), scheme)
    else:
        raise ValueError(f"level: {level!r} unknown; choose from originals, within")
    return Draws(runs, np.ones((b, n_refs)), np.ones((b, n_examples)),
                 np.full(b, noise_seed, dtype=np.int64))


def between_share(between_reps, within_reps):
    """V_between / (V_between + V_within) of two sets of replicates (population variances);
    None when both are constant (nothing varies)."""
    v_b, v_w = float(np.var(between_reps)), float(np.var(within_reps))
    return None if v_b + v_w == 0 else v_b / (v_b + v_w)


def weighted_means(values, weights) -> np.ndarray:
    """Replicate b's weighted mean of values[b] ([B, K], or [1, K] shared) with weights [B, K]."""
    weights = np.asarray(weights, np.float64)
    return (np.asarray(values, np.float64) * weights).sum(axis=1) / weights.sum(axis=1)


def score_replicates(quality, draws: Draws, retain_u, test_u, retain_r, test_r, *,
                     resample_refs: bool, ref_index=None) -> np.ndarray:
    """Final score [B] per replicate: F_b × (RA_U / RA_R) × (TA_U / TA_R), the unlearned means
    weighted by the replicate's run weights, the reference means by its reference weights
    (resample_refs), or the one reference model ref_index [B] of each replicate, or plain over
    the given models. Accuracies are per model, [N] and [N_ref]."""
    ra_u = weighted_means(np.asarray(retain_u, np.float64)[None], draws.runs)
    ta_u = weighted_means(np.asarray(test_u, np.float64)[None], draws.runs)
    ra_r, ta_r = np.asarray(retain_r, np.float64), np.asarray(test_r, np.float64)
    if resample_refs:
        ra_r, ta_r = weighted_means(ra_r[None], draws.refs), weighted_means(ta_r[None], draws.refs)
    elif ref_index is not None:
        ra_r, ta_r = ra_r[ref_index], ta_r[ref_index]
    else:
        ra_r, ta_r = np.full(draws.resamples, ra_r.mean()), np.full(draws.resamples, ta_r.mean())
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
