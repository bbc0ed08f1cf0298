"""The study's local scorer (per-example ε, docs/scoring.md#per-example-epsilon-local) on bootstrap
replicates (docs/scoring.md#bootstrap-intervals), batched. numpy only.

A replicate redraws the N unlearning runs (with replacement) and the noise that stands in for N
retrained models (a fresh seed per replicate; the noise scale follows the drawn runs, as in the
scorer). Its ε are the same two attacks as `scoring.local_epsilons`, computed for many
(replicate, example) problems at once:
- best threshold: every pooled value as threshold, counts from one sort per problem;
- logistic regression: `LogisticRegression()` minimises Σ log-loss + ½·w² (C = 1, intercept not
  penalised); with one feature that is a two-parameter strictly convex problem, solved here to
  machine precision by damped Newton steps for all problems together (sklearn's lbfgs stops at a
  gradient tolerance, so a test point lying on the fitted boundary could in principle be
  classified differently; tests/test_bootstrap_local.py compares the two).
The train/test splits depend on the labels only, so one list serves every problem.
"""
from __future__ import annotations

import numpy as np

from unlearn.scoring.local import (LOCAL_DELTA, _LOCAL_BIN_EDGES, _attack_eps, _shuffle_splits,
                      local_noise_std, noisy_retrained_statistics)

_NEWTON_STEPS = 60
_CHUNK = 20000           # problems per batch: bounds the [problems, 2N] work arrays


def _threshold_rates(r, u):
    """FPR, FNR [K, 2N] of the rules "unlearned when value > t" for t = every pooled value."""
    n = r.shape[1]
    pooled = np.concatenate([r, u], axis=1)
    order = np.argsort(pooled, axis=1, kind="stable")
    v = np.take_along_axis(pooled, order, axis=1)
    cum_u = np.cumsum(order >= n, axis=1)
    # counts must include every value equal to t: read them at the end of each run of ties
    k = np.arange(v.shape[1])
    end = np.concatenate([v[:, 1:] != v[:, :-1], np.ones((v.shape[0], 1), bool)], axis=1)
    last = np.minimum.accumulate(np.where(end, k, v.shape[1])[:, ::-1], axis=1)[:, ::-1]
    u_le = np.take_along_axis(cum_u, last, axis=1)
    r_le = last + 1 - u_le
    return (n - r_le) / n, u_le / n


def _objective(w, b, x, s):
    return np.logaddexp(0.0, -s * (w[:, None] * x + b[:, None])).sum(axis=1) + 0.5 * w * w


def fit_logistic_1d(x, y):
    """(w, b) minimising Σ log(1 + exp(−s·(w·x + b))) + ½·w², s = ±1 from labels y [n] ∈ {0, 1},
    for every row of x [K, n]: sklearn's LogisticRegression() objective (C = 1)."""
    x = np.asarray(x, np.float64)
    s = np.where(np.asarray(y) == 1, 1.0, -1.0)[None, :]
    yy = (s + 1) / 2
    w = np.zeros(x.shape[0])
    b = np.zeros(x.shape[0])
    f = _objective(w, b, x, s)
    for _ in range(_NEWTON_STEPS):
        p = 0.5 * (1 + np.tanh(0.5 * (w[:, None] * x + b[:, None])))    # sigmoid, overflow-free
        e = p - yy
        gw, gb = (e * x).sum(axis=1) + w, e.sum(axis=1)
        h = p * (1 - p)
        hww, hwb, hbb = (h * x * x).sum(axis=1) + 1.0, (h * x).sum(axis=1), h.sum(axis=1)
        det = hww * hbb - hwb * hwb
        det = np.where(det > 0, det, np.inf)                             # flat in b: no step
        dw, db = (hbb * gw - hwb * gb) / det, (hww * gb - hwb * gw) / det
        dw = np.where(np.isfinite(det), dw, gw / hww)
        if max(np.abs(gw).max(initial=0), np.abs(gb).max(initial=0)) < 1e-12:
            break
        t = np.ones_like(w)
        for _ in range(30):                                              # backtracking
            nf = _objective(w - t * dw, b - t * db, x, s)
            bad = nf > f + 1e-15 * np.abs(f)
            if not bad.any():
                break
            t = np.where(bad, t / 2, t)
        w, b, f = w - t * dw, b - t * db, np.minimum(f, nf)
    return w, b


def _logreg_rates(r, u, splits):
    """Mean test FPR, FNR [K] over the splits of a logistic regression per problem."""
    n = r.shape[1]
    x = np.concatenate([r, u], axis=1)
    y = np.repeat([0, 1], n)
    fpr = np.zeros(x.shape[0])
    fnr = np.zeros(x.shape[0])
    for tr, te in splits:
        w, b = fit_logistic_1d(x[:, tr], y[tr])
        pred = (w[:, None] * x[:, te] + b[:, None]) > 0
        yt = y[te]
        fpr += (pred & (yt == 0)).sum(axis=1) / np.sum(yt == 0)
        fnr += (~pred & (yt == 1)).sum(axis=1) / np.sum(yt == 1)
    return fpr / len(splits), fnr / len(splits)


def local_epsilons_batch(unlearned, retrained, *, delta=LOCAL_DELTA, n_splits=3,
                         random_state=0, test_size=None) -> np.ndarray:
    """ε [K] of `scoring.local_epsilons` for K independent problems: unlearned, retrained
    [K, N] statistics of one example each."""
    u = np.asarray(unlearned, np.float64)
    r = np.asarray(retrained, np.float64)
    _, splits = _shuffle_splits(u.shape[1], n_splits, random_state, "local_epsilons", test_size)
    out = np.zeros(u.shape[0])
    for c0 in range(0, u.shape[0], _CHUNK):
        uc, rc = u[c0:c0 + _CHUNK], r[c0:c0 + _CHUNK]
        fpr, fnr = _threshold_rates(rc, uc)
        lr_fpr, lr_fnr = _logreg_rates(rc, uc, splits)
        eps = _attack_eps(np.concatenate([fpr, lr_fpr[:, None]], axis=1),
                          np.concatenate([fnr, lr_fnr[:, None]], axis=1), delta)
        out[c0:c0 + _CHUNK] = np.maximum(0.0, eps.max(axis=1))
    return out


def resampled_local_epsilons(unlearned_stats, retrained_logits, run_draws, noise_seeds, *,
                             noise_divisor: float = 10.0, examples=None, **eps_kw) -> np.ndarray:
    """ε [B, S] of the local scorer on B replicates: unlearned_stats [N, S] (one row per run),
    retrained_logits [S, C] of the one reference model, run_draws [B, N] run indices,
    noise_seeds [B]. examples: optional [B, S] bool mask of the ε to compute (others 0)."""
    u_all = np.asarray(unlearned_stats, np.float64)
    n, s = u_all.shape
    run_draws = np.asarray(run_draws)
    b = run_draws.shape[0]
    mask = np.ones((b, s), bool) if examples is None else np.asarray(examples, bool)
    u_rows, r_rows = [], []
    for k in range(b):
        u_b = u_all[run_draws[k]]
        std = local_noise_std(u_b, noise_divisor)
        r_b = noisy_retrained_statistics(retrained_logits, n, std, int(noise_seeds[k]))
        cols = np.flatnonzero(mask[k])
        u_rows.append(u_b[:, cols].T)
        r_rows.append(r_b[:, cols].T)
    out = np.zeros((b, s))
    if mask.any():
        out[mask] = local_epsilons_batch(np.concatenate(u_rows), np.concatenate(r_rows), **eps_kw)
    return out


def local_quality_replicates(unlearned_stats, retrained_logits, draws, *,
                             noise_divisor: float = 10.0, **eps_kw) -> np.ndarray:
    """F [B] of the local scorer on the replicates of `draws` (bootstrap.Draws): runs as drawn, a
    fresh noise draw per replicate, examples weighted by their draw counts (ε computed only for
    the examples a replicate drew)."""
    counts = draws.example_counts
    eps = resampled_local_epsilons(unlearned_stats, retrained_logits, draws.runs,
                                   draws.noise_seeds, noise_divisor=noise_divisor,
                                   examples=counts > 0, **eps_kw)
    points = 2.0 / 2.0 ** np.digitize(eps, _LOCAL_BIN_EDGES)
    return (points * counts).sum(axis=1) / counts.sum(axis=1)
