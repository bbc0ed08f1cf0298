"""The competition metric's per-example ε (docs/scoring.md#per-example-epsilon-official) on
bootstrap resamples of the models (docs/scoring.md#bootstrap-intervals), exact and fast. numpy
only.

A bootstrap replicate draws N of the N unlearned models and N of the N retrained models with
replacement. Every drawn confidence is one of the 2N original ones, so a replicate is the
original pooled confidences of an example, sorted ONCE, with a multiplicity per value (how often
its model was drawn). Counts below a threshold are then cumulative sums of multiplicities on that
fixed order: nothing is re-sorted per replicate.

What a replicate changes is the rule grid: the single-threshold grid depends on the drawn minimum
and maximum, the double-threshold grid on which side is "pos2" and its drawn extremes. Replicates
of one example that share those (a handful of distinct grids per example) share the work:
- single family: the grid's thresholds that fall between two consecutive sorted values give one
  count each; which gaps hold a threshold is found by inverting `np.linspace` (`_grid_count`),
  O(2N) per replicate instead of O(thresholds);
- double family: the ~160k (right, left) rules collapse to the distinct pairs (#values <= right,
  #values < left) they produce, computed once per grid (`_double_pairs`); each replicate then
  evaluates ε on those pairs with its own multiplicities.
The result is the same ε as `scoring_official.official_epsilons` on the resampled confidences
(tests/test_bootstrap_official.py checks this against it).
"""
from __future__ import annotations

import math

import numpy as np

from unlearn.scoring.official import DELTA, EPSILON_CAP, _rule_eps, official_bucket_count

_GRID = 100            # thresholds per unit of confidence (the reference's)
_BUFFER = 2.0          # double-threshold buffer b
_N_LEFT = 400          # left thresholds per right threshold: ceil(2·b·100)
_PEAKY = 0.01


def _linspace_at(start, stop, num, k):
    """Element k of np.linspace(start, stop, num), bit for bit (numpy: k·step + start, the last
    one set to stop; step = (stop − start) / (num − 1))."""
    k = np.asarray(k)
    div = np.maximum(num - 1, 1)
    step = (stop - start) / div
    return np.where((k == num - 1) & (num > 1), stop, k * step + start)


def _grid_count(v, start, stop, num):
    """#{k < num : np.linspace(start, stop, num)[k] <= v}, elementwise (broadcasting), exact:
    a float estimate corrected by evaluating the grid itself around it."""
    num = np.asarray(num)
    div = np.maximum(num - 1, 1)
    step = (stop - start) / div
    with np.errstate(divide="ignore", invalid="ignore"):
        guess = np.floor((v - start) / step) + 1
    guess = np.where(step > 0, guess, np.where(v >= start, num, 0))
    c = np.clip(np.nan_to_num(guess, nan=0.0, posinf=0.0, neginf=0.0), 0, num).astype(np.int64)
    for _ in range(2):          # the estimate is off by at most one; two rounds to be safe
        up = (c < num) & (_linspace_at(start, stop, num, np.minimum(c, num - 1)) <= v)
        c = c + up
        down = (c > 0) & (_linspace_at(start, stop, num, np.maximum(c - 1, 0)) > v)
        c = c - down
    return c


def _double_pairs(z, p2_lo, p2_hi, width):
    """Distinct (M, m) of the double-threshold rules for one grid: M = #z <= right,
    m = #z < left, m < M (other rules select nothing and are discarded). z sorted [V]."""
    r_lo, r_hi = p2_lo + width - _BUFFER, p2_hi + _BUFFER      # same operation order as reference
    n_right = int(math.ceil((r_hi - r_lo) * _GRID))
    if n_right <= 0:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    right = np.linspace(r_lo, r_hi, n_right)
    big_m = np.searchsorted(z, right, side="right")
    starts, stops = right - width - _BUFFER, right - width + _BUFFER
    m_lo = np.searchsorted(z, starts, side="left")              # m of the first left threshold
    m_hi = np.searchsorted(z, stops, side="left")               # m of the last
    first = np.flatnonzero(np.r_[True, big_m[1:] != big_m[:-1]])   # rows with one M form a run
    last = np.r_[first[1:] - 1, n_right - 1]
    v = z.size
    ms = np.arange(v + 1)
    # Gap m is (z[m-1], z[m]]; a left threshold in it gives m. A gap wider than the left grid's
    # spacing holds a threshold of every row whose range it meets; narrower ones are checked.
    step = (stops - starts) / (_N_LEFT - 1)
    gap = np.r_[np.inf, np.diff(z), np.inf]
    narrow = np.flatnonzero(gap <= step.max() * (1 + 1e-6))
    attained = (ms[None] >= m_lo[first, None]) & (ms[None] <= m_hi[last, None])
    if narrow.size:
        attained[:, narrow] = False
        lo_v, hi_v = z[narrow - 1], z[narrow]
        with np.errstate(divide="ignore", invalid="ignore"):
            kc = np.ceil((lo_v[None] - starts[:, None]) / step[:, None])
        kc = np.nan_to_num(kc, nan=0.0, posinf=_N_LEFT, neginf=0.0)
        hit = np.zeros((n_right, narrow.size), bool)
        for d in (-1, 0, 1):
            k = np.clip(kc + d, 0, _N_LEFT - 1)
            left = _linspace_at(starts[:, None], stops[:, None], _N_LEFT, k)
            hit |= (left > lo_v[None]) & (left <= hi_v[None])
        attained[:, narrow] = np.logical_or.reduceat(hit, first, axis=0)
    attained &= ms[None] < big_m[first, None]
    run, m = np.nonzero(attained)
    return big_m[first][run], m


def _nth_drawn(cum, k):
    """Index (into the sorted values) of the k-th smallest drawn value (1-based), per row."""
    return np.argmax(cum[:, 1:] >= k, axis=1)


def _median(z, cum, n):
    """np.median of the n drawn values of one side, from its cumulative multiplicities."""
    if n % 2:
        return z[_nth_drawn(cum, (n + 1) // 2)]
    return (z[_nth_drawn(cum, n // 2)] + z[_nth_drawn(cum, n // 2 + 1)]) / 2


def _one_example(z, from_r, w, n, table, cap):
    """ε of one example for every replicate: z the sorted 2N confidences, from_r which came from
    a retrained model, w [B, 2N] multiplicities (N per side per row)."""
    b = w.shape[0]
    w_r = np.where(from_r, w, 0)
    w_u = w - w_r
    cum_r = np.zeros((b, z.size + 1), np.int32)     # counts <= 2N: int32 halves the traffic
    cum_u = np.zeros_like(cum_r)
    np.cumsum(w_r, axis=1, out=cum_r[:, 1:])
    np.cumsum(w_u, axis=1, out=cum_u[:, 1:])
    drawn_u, drawn_r = w_u > 0, w_r > 0
    u_lo, u_hi = z[np.argmax(drawn_u, 1)], z[z.size - 1 - np.argmax(drawn_u[:, ::-1], 1)]
    r_lo, r_hi = z[np.argmax(drawn_r, 1)], z[z.size - 1 - np.argmax(drawn_r[:, ::-1], 1)]
    r_is_pos = _median(z, cum_r, n) > _median(z, cum_u, n)
    d_r, d_u = r_hi - r_lo, u_hi - u_lo
    dp, dn = np.where(r_is_pos, d_r, d_u), np.where(r_is_pos, d_u, d_r)
    with np.errstate(invalid="ignore", divide="ignore"):
        peaky = np.minimum(dp, dn) / np.maximum(dp, dn) < _PEAKY
    cum_pos = np.where(r_is_pos[:, None], cum_r, cum_u)
    cum_all = cum_r + cum_u
    stride = n + 1
    # Single threshold: predict pos when c >= t; gap g (g values below t) is reached when a grid
    # point lies in (z[g-1], z[g]].
    lo, hi = np.minimum(u_lo, r_lo), np.maximum(u_hi, r_hi)
    n_thr = np.ceil((hi - lo) * _GRID).astype(np.int64)
    below = _grid_count(z[None], lo[:, None], hi[:, None], n_thr[:, None])       # [B, V]
    edges = np.concatenate([np.zeros((b, 1), np.int64), below, n_thr[:, None]], axis=1)
    reached = np.diff(edges, axis=1) > 0                                         # [B, V + 1]
    fn = cum_pos
    fp = n - (cum_all - cum_pos)
    eps = np.where(reached, table[fn * stride + fp], -np.inf).max(axis=1)
    # Double threshold: "pos2" is the side with the smaller range (equal ranges: neg).
    swap = dp >= dn
    p2_is_r = r_is_pos != swap
    cum_p2 = np.where(p2_is_r[:, None], cum_r, cum_u)
    cum_n2 = cum_all - cum_p2
    p2_lo_i = np.where(p2_is_r, np.argmax(drawn_r, 1), np.argmax(drawn_u, 1))
    p2_hi_i = np.where(p2_is_r, z.size - 1 - np.argmax(drawn_r[:, ::-1], 1),
                       z.size - 1 - np.argmax(drawn_u[:, ::-1], 1))
    todo = ~peaky & (eps < np.inf)
    keys = np.stack([p2_lo_i, p2_hi_i], axis=1)[todo]
    rows = np.flatnonzero(todo)
    if rows.size:
        uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        order = np.argsort(inverse, kind="stable")
        bounds = np.r_[0, np.cumsum(np.bincount(inverse, minlength=len(uniq)))]
        for g, (i_lo, i_hi) in enumerate(uniq):
            members = rows[order[bounds[g]:bounds[g + 1]]]
            big_m, m = _double_pairs(z, z[i_lo], z[i_hi], z[i_hi] - z[i_lo])
            if big_m.size == 0:
                continue
            cp, cn = cum_p2[members], cum_n2[members]
            code = cn[:, big_m] - cn[:, m]                       # fp
            code += (n - (cp[:, big_m] - cp[:, m])) * stride      # + fn · (N + 1)
            eps[members] = np.maximum(eps[members], table[code].max(axis=1))
    eps = np.where(peaky, cap, eps)
    return np.clip(eps, 0.0, cap)


def resampled_official_epsilons(unlearned_confs, retrained_confs, draws_u, draws_r, *,
                                delta: float = DELTA, eps_cap: float = EPSILON_CAP,
                                examples=None) -> np.ndarray:
    """ε [B, S] of the competition metric on B bootstrap resamples of the models.

    unlearned_confs, retrained_confs: [N, S] confidences (checked by the caller); draws_u,
    draws_r: [B, N] model indices drawn with replacement, row b = replicate b. examples: an
    optional [B, S] bool mask; ε is computed only where True (elsewhere 0), e.g. for the examples
    a replicate actually drew."""
    u = np.asarray(unlearned_confs, np.float64)
    r = np.asarray(retrained_confs, np.float64)
    n, s = u.shape
    draws_u, draws_r = np.asarray(draws_u), np.asarray(draws_r)
    b = draws_u.shape[0]
    counts = np.zeros((b, 2 * n), np.int32)
    np.add.at(counts, (np.arange(b)[:, None], draws_u), 1)
    np.add.at(counts, (np.arange(b)[:, None], draws_r + n), 1)
    k = np.arange(n + 1)
    table = _rule_eps(k[:, None], k[None, :], n, delta).ravel()    # ε by fn·(N+1) + fp
    out = np.zeros((b, s))
    for i in range(s):
        rows = np.arange(b) if examples is None else np.flatnonzero(examples[:, i])
        if rows.size == 0:
            continue
        vals = np.concatenate([u[:, i], r[:, i]])
        order = np.argsort(vals, kind="stable")
        out[rows, i] = _one_example(vals[order], order >= n, counts[rows][:, order], n, table,
                                    eps_cap)
    return out


def official_quality_replicates(unlearned_confs, retrained_confs, draws, *,
                                delta: float = DELTA) -> np.ndarray:
    """F [B] of the competition metric on the replicates of `draws` (bootstrap.Draws): runs and
    reference models as drawn, examples weighted by their draw counts. ε is computed only for the
    examples a replicate drew (about 63% of them), then bucketed as in
    `official_quality_from_epsilons`."""
    n = np.shape(unlearned_confs)[0]
    counts = draws.example_counts
    eps = resampled_official_epsilons(unlearned_confs, retrained_confs, draws.runs, draws.refs,
                                      delta=delta, examples=counts > 0)
    n_buckets = official_bucket_count(n)
    k = np.floor(eps / 0.5)
    points = np.where(k < n_buckets, 0.5 ** np.minimum(k, n_buckets), 0.0)
    return (points * counts).sum(axis=1) / counts.sum(axis=1)
