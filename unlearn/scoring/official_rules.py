"""Which of the competition metric's decision rules an example's values can tell apart.

Every rule of the metric (docs/scoring.md#per-example-epsilon-official) compares each
confidence with thresholds on a grid; what matters for ε is only how many of the example's
sorted pooled confidences z fall below each threshold. So a rule is an index into z:
- single family (predict pos when c >= t): the gap g (g values below t) that holds a grid
  point of np.linspace(lo, hi, ceil((hi − lo)·grid)); `_grid_count` inverts the grid exactly;
- double family (predict pos2 when l <= c <= r): the pair (M = #z <= r, m = #z < l); the
  ~160k (right, left) grid points collapse to the few distinct pairs `double_pairs` returns.
Both depend on z and the grid's end points only, never on how the models are weighted, so
unlearn/scoring/official.py evaluates them once per example and grid for every weighting.
"""
from __future__ import annotations

import math

import numpy as np


def linspace_at(start, stop, num, k):
    """Element k of np.linspace(start, stop, num), bit for bit (numpy: k·step + start, the last
    one set to stop; step = (stop − start) / (num − 1))."""
    k = np.asarray(k)
    div = np.maximum(num - 1, 1)
    step = (stop - start) / div
    return np.where((k == num - 1) & (num > 1), stop, k * step + start)


def grid_count(v, start, stop, num):
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
        up = (c < num) & (linspace_at(start, stop, num, np.minimum(c, num - 1)) <= v)
        c = c + up
        down = (c > 0) & (linspace_at(start, stop, num, np.maximum(c - 1, 0)) > v)
        c = c - down
    return c


def single_gaps(z, lo, hi, grid):
    """[B, V + 1] bool: gap g of the sorted values z [V] holds a single-family threshold of
    replicate b, whose grid spans [lo[b], hi[b]] (a threshold in (z[g−1], z[g]] has g values
    below it)."""
    n_thr = np.ceil((hi - lo) * grid).astype(np.int64)
    below = grid_count(z[None], lo[:, None], hi[:, None], n_thr[:, None])       # [B, V]
    edges = np.concatenate([np.zeros((lo.size, 1), np.int64), below, n_thr[:, None]], axis=1)
    return np.diff(edges, axis=1) > 0


def double_pairs(z, p2_lo, p2_hi, width, grid, buffer, n_left):
    """Distinct (M, m) of the double-threshold rules for one grid: M = #z <= right,
    m = #z < left, m < M (other rules select nothing and are discarded). z sorted [V]."""
    r_lo, r_hi = p2_lo + width - buffer, p2_hi + buffer      # same operation order as reference
    n_right = int(math.ceil((r_hi - r_lo) * grid))
    if n_right <= 0:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    right = np.linspace(r_lo, r_hi, n_right)
    big_m = np.searchsorted(z, right, side="right")
    starts, stops = right - width - buffer, right - width + buffer
    m_lo = np.searchsorted(z, starts, side="left")              # m of the first left threshold
    if n_left == 1:                                             # the grid is its first point
        keep = m_lo < big_m
        pairs = np.unique(np.stack([big_m[keep], m_lo[keep]]), axis=1)
        return pairs[0], pairs[1]
    m_hi = np.searchsorted(z, stops, side="left")               # m of the last
    first = np.flatnonzero(np.r_[True, big_m[1:] != big_m[:-1]])   # rows with one M form a run
    last = np.r_[first[1:] - 1, n_right - 1]
    v = z.size
    ms = np.arange(v + 1)
    # Gap m is (z[m-1], z[m]]; a left threshold in it gives m. A gap wider than the left grid's
    # spacing holds a threshold of every row whose range it meets; narrower ones are checked.
    step = (stops - starts) / (n_left - 1)
    gap = np.r_[np.inf, np.diff(z), np.inf]
    narrow = np.flatnonzero(gap <= step.max() * (1 + 1e-6))
    attained = (ms[None] >= m_lo[first, None]) & (ms[None] <= m_hi[last, None])
    if narrow.size:
        attained[:, narrow] = False
        lo_v, hi_v = z[narrow - 1], z[narrow]
        with np.errstate(divide="ignore", invalid="ignore"):
            kc = np.ceil((lo_v[None] - starts[:, None]) / step[:, None])
        kc = np.nan_to_num(kc, nan=0.0, posinf=n_left, neginf=0.0)
        hit = np.zeros((n_right, narrow.size), bool)
        for d in (-1, 0, 1):
            k = np.clip(kc + d, 0, n_left - 1)
            left = linspace_at(starts[:, None], stops[:, None], n_left, k)
            hit |= (left > lo_v[None]) & (left <= hi_v[None])
        attained[:, narrow] = np.logical_or.reduceat(hit, first, axis=0)
    attained &= ms[None] < big_m[first, None]
    run, m = np.nonzero(attained)
    return big_m[first][run], m
